// policy watch | sync status: follow the change feed; see where a policy's delivery stands, consumer by consumer.
import { toJson } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { GetSyncStatusResponseSchema } from "../../../gen/policy/v1/sync_service_pb.js";
import { ChangeKind, ChangeKindSchema, ChangeSchema, type Change } from "../../../gen/policy/v1/watch_service_pb.js";
import { watch as follow } from "../../client/watch.js";
import { list, RESOURCE_OPTIONS, str } from "../args.js";
import { UsageError } from "../command-errors.js";
import { print, syncStatusName, table } from "../output.js";
import { parentName, resolveResource, resourceType } from "../resource-ref.js";
import type { Command } from "./command.js";

/** POLICY_SET for CHANGE_KIND_POLICY_SET. */
const kindName = (kind: ChangeKind) => ChangeKind[kind] ?? String(kind);

/** Every change kind, from the generated enum (so a new kind is listed without editing this file). */
export const CHANGE_KINDS: readonly string[] = ChangeKindSchema.values
  .filter((v) => v.number !== ChangeKind.UNSPECIFIED)
  .map((v) => kindName(v.number));

/** `words` as lines of at most `width` characters, each after `indent`. */
function wrap(words: readonly string[], width: number, indent: string): string[] {
  const lines: string[] = [];
  for (const word of words) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last]!.length + word.length + 1 <= width) lines[last] += ` ${word}`;
    else lines.push(`${indent}${word}`);
  }
  return lines;
}

/** One line per change: sequence, time, kind, resource, the move, the author. */
export function changeLine(change: Change): string {
  const time = change.commitTime ? timestampDate(change.commitTime).toISOString() : "-";
  const move = change.kind === ChangeKind.RESOURCE_MOVED ? ` (from ${change.previousParent || "root"} to ${change.parent || "root"})` : "";
  const bindings = change.policy ? ` (${change.policy.bindings.length} binding(s))` : "";
  return `${change.sequence}  ${time}  ${kindName(change.kind)}  ${change.resource}${move}${bindings}  by ${change.principal}`;
}

export const watch: Command = {
  help: {
    name: "watch",
    summary: "print every change to resources and policies as it happens (Ctrl-C stops)",
    usage: ["[--subtree NAME] [--type TYPE]... [--kind KIND]... [--since SEQ] [--limit N] [-o json]"],
    details: [
      "Lines: SEQUENCE  TIME  KIND  RESOURCE  by PRINCIPAL. `-o json` prints one change per line (protobuf JSON).",
      "--since SEQ resumes after a sequence (0: the whole retained log); without it, from now.",
      "Kinds (--kind, repeatable; CHANGE_KIND_ may be left out):",
      ...wrap(CHANGE_KINDS, 116, "  "),
      "The stream reconnects by itself after a disconnect and resumes where it stopped.",
    ],
  },
  options: {
    subtree: { type: "string", value: "NAME", help: "only this resource and its descendants" },
    type: { type: "string", value: "TYPE", multiple: true, help: "only resources of this type" },
    kind: { type: "string", value: "KIND", multiple: true, help: "only changes of this kind" },
    since: { type: "string", value: "SEQ", help: "resume after this sequence" },
    limit: { type: "string", value: "N", help: "stop after N changes" },
  },
  async run(ctx) {
    const since = str(ctx.values, "since");
    if (since !== undefined && !/^\d+$/.test(since)) throw new UsageError(`--since "${since}" is not a sequence number`, ctx.command);
    const limit = Number(str(ctx.values, "limit") ?? "0");
    if (!Number.isInteger(limit) || limit < 0) throw new UsageError("--limit must be a count", ctx.command);
    const kinds = list(ctx.values, "kind").map((k) => {
      const kind = ChangeKind[k.toUpperCase().replace(/^(CHANGE_KIND_)?/, "") as keyof typeof ChangeKind];
      if (kind === undefined || kind === ChangeKind.UNSPECIFIED) throw new UsageError(`--kind "${k}" is not a change kind`, ctx.command);
      return kind;
    });
    const subtree = str(ctx.values, "subtree");
    const abort = new AbortController();
    const stop = () => abort.abort();
    process.once("SIGINT", stop);
    let seen = 0;
    try {
      for await (const event of follow(ctx.api.watch, {
        subtree: subtree ? parentName(ctx, subtree) : "",
        resourceTypes: list(ctx.values, "type").map((t) => resourceType(ctx, t).name),
        kinds,
        ...(since === undefined ? {} : { afterSequence: BigInt(since) }),
        signal: abort.signal,
        onReconnect: (error, ms) => ctx.io.stderr(`disconnected (${error.rawMessage}); reconnecting in ${Math.round(ms)} ms`),
      })) {
        if (event.kind !== "change") continue;
        ctx.io.stdout(ctx.settings.output === "json" ? JSON.stringify(toJson(ChangeSchema, event.change)) : changeLine(event.change));
        if (limit > 0 && ++seen >= limit) break;
      }
    } finally {
      process.off("SIGINT", stop);
    }
  },
};

export const syncStatus: Command = {
  help: {
    name: "sync status",
    summary: "show whether a resource's policy reached each consumer that covers it",
    usage: [`--resource-type TYPE [--resource-id ID]`],
    details: ["No consumer covering the resource means nothing to deliver: SUCCESS."],
  },
  options: { ...RESOURCE_OPTIONS },
  async run(ctx) {
    const resource = await resolveResource(ctx);
    const status = await ctx.api.sync.getSyncStatus({ resource });
    print(ctx, toJson(GetSyncStatusResponseSchema, status), () => {
      const head = `${resource}: ${syncStatusName(status.status)} (policy revision ${status.policySequence})`;
      const hidden = status.partial ? "\nConsumers you may not read also cover it (the status counts them)." : "";
      if (status.consumers.length === 0) return status.partial ? `${head}${hidden}` : `${head}; no consumer covers it: nothing to deliver.`;
      const rows = status.consumers.map((c) => [
        c.consumer,
        syncStatusName(c.status),
        String(c.acknowledgedSequence),
        c.message ? `${c.message} (sequence ${c.failedSequence})` : "",
      ]);
      return `${head}\n${table(["Consumer", "Status", "Acknowledged", "Failure"], rows)}${hidden}`;
    });
  },
};
