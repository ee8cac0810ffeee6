// policy sync consumers list | get | create | delete: the downstream systems that apply policies. A registered consumer
// makes every policy in its scope PENDING until it acknowledges; one that no longer runs (an example left behind)
// keeps them so until it is deleted here.
import { toJson } from "@bufbuild/protobuf";
import { ConsumerSchema, type Consumer } from "../../../gen/policy/v1/sync_service_pb.js";
import { list, required, str } from "../args.js";
import type { Context } from "../context.js";
import { UsageError } from "../command-errors.js";
import { print, table, timeCell } from "../output.js";
import { parentName, resourceType } from "../resource-ref.js";
import type { Command } from "./command.js";

const COLLECTION = "consumers";

/** `consumers/{id}` for `--name id` or `--name consumers/id`. */
function consumerName(ctx: Context): string {
  const given = required(ctx.values, "name", ctx.command);
  const id = given.startsWith(`${COLLECTION}/`) ? given.slice(COLLECTION.length + 1) : given;
  if (id === "" || id.includes("/")) throw new UsageError(`--name "${given}" is not a consumer id such as mirror`, ctx.command);
  return `${COLLECTION}/${id}`;
}

const NAME_OPTION = { name: { type: "string", value: "NAME", help: "the consumer: its id (mirror) or consumers/ID" } } as const;

function scope(c: Consumer): string {
  const where = c.subtree || "everything";
  return c.resourceTypes.length > 0 ? `${where} (${c.resourceTypes.join(", ")})` : where;
}

function printConsumer(ctx: Context, c: Consumer): void {
  print(ctx, toJson(ConsumerSchema, c), () =>
    table(
      ["Field", "Value"],
      [
        ["Name", c.name],
        ["Display name", c.displayName || "-"],
        ["Scope", scope(c)],
        ["Acknowledged", String(c.acknowledgedSequence)],
        ["Lag", `${c.lagSequences} change(s)`],
        ["Failures", String(c.failureCount)],
        ["Last acknowledged", timeCell(c.acknowledgeTime) || "never"],
        ["Created", timeCell(c.createTime)],
      ],
    ),
  );
}

export const consumersList: Command = {
  help: {
    name: "sync consumers list",
    summary: "list the registered sync consumers, with how far behind each is",
    usage: ["[-o json]"],
    details: [
      "A policy in a consumer's scope is PENDING until the consumer acknowledges it: a consumer that no longer runs",
      "keeps its scope PENDING. Remove it with `policy sync consumers delete --name NAME`.",
    ],
  },
  options: {},
  async run(ctx) {
    const { consumers } = await ctx.api.sync.listConsumers({});
    print(ctx, { consumers: consumers.map((c) => toJson(ConsumerSchema, c)) }, () =>
      consumers.length === 0
        ? "No consumer is registered: no policy waits for one (every sync status is SUCCESS)."
        : table(
            ["Consumer", "Scope", "Acknowledged", "Lag", "Failures", "Last acknowledged"],
            consumers.map((c) => [
              c.name,
              scope(c),
              String(c.acknowledgedSequence),
              String(c.lagSequences),
              String(c.failureCount),
              timeCell(c.acknowledgeTime) || "never",
            ]),
          ),
    );
  },
};

export const consumersGet: Command = {
  help: { name: "sync consumers get", summary: "show a sync consumer and its progress", usage: ["--name NAME"] },
  options: NAME_OPTION,
  async run(ctx) {
    printConsumer(ctx, await ctx.api.sync.getConsumer({ name: consumerName(ctx) }));
  },
};

export const consumersCreate: Command = {
  help: {
    name: "sync consumers create",
    summary: "register a sync consumer: policies in its scope wait for its acknowledgements",
    usage: ["--name NAME [--subtree NAME] [--type TYPE]... [--display-name TEXT]"],
    details: ["e.g. policy sync consumers create --name edge-proxy --subtree organizations/acme --type project"],
  },
  options: {
    ...NAME_OPTION,
    subtree: { type: "string", value: "NAME", help: "its scope: this resource and its descendants (default: everything)" },
    type: { type: "string", value: "TYPE", multiple: true, help: "only resources of this type" },
    "display-name": { type: "string", value: "TEXT", help: "a description, up to 200 characters" },
  },
  async run(ctx) {
    const subtree = str(ctx.values, "subtree");
    const consumer = await ctx.api.sync.createConsumer({
      consumer: {
        name: consumerName(ctx),
        subtree: subtree ? parentName(ctx, subtree) : "",
        resourceTypes: list(ctx.values, "type").map((t) => resourceType(ctx, t).name),
        displayName: str(ctx.values, "display-name") ?? "",
      },
    });
    printConsumer(ctx, consumer);
  },
};

export const consumersDelete: Command = {
  help: {
    name: "sync consumers delete",
    summary: "remove a sync consumer: the policies in its scope no longer wait for it",
    usage: ["--name NAME"],
  },
  options: NAME_OPTION,
  async run(ctx) {
    const name = consumerName(ctx);
    await ctx.api.sync.deleteConsumer({ name });
    print(ctx, { name }, () => `Deleted ${name}: the policies in its scope no longer wait for it.`);
  },
};
