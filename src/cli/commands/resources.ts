// policy resources create | get | list | move | delete: the resource hierarchy policies are attached to.
import { toJson } from "@bufbuild/protobuf";
import { ResourceSchema, type Resource } from "../../../gen/policy/v1/resource_pb.js";
import { DeleteResourceResponseSchema } from "../../../gen/policy/v1/resource_service_pb.js";
import { flag, required, RESOURCE_OPTIONS, str } from "../args.js";
import type { Context } from "../context.js";
import { EXIT_FAILURE, UsageError } from "../command-errors.js";
import { print, table, timeCell } from "../output.js";
import { allPages } from "../pages.js";
import { ORGANIZATION, parentName, resolveOrganization, resolveResource, resourceType, typeOfName } from "../resource-ref.js";
import type { Command } from "./command.js";
import { withArticle } from "../../article.js";

const RESOURCE_USAGE = "--resource-type TYPE [--resource-id ID]";

function printResource(ctx: Context, resource: Resource): void {
  print(ctx, toJson(ResourceSchema, resource), () =>
    table(
      ["Field", "Value"],
      [
        ["Name", resource.name],
        ["Type", resource.type],
        ["Parent", resource.parent || "-"],
        ["Display name", resource.displayName || "-"],
        ["Etag", resource.etag],
        ["Created", timeCell(resource.createTime)],
        ["Updated", timeCell(resource.updateTime)],
      ],
    ),
  );
}

/** The parent of a new resource: --parent, else the organization when the type may live in one. */
async function parentOf(ctx: Context, typeName: string): Promise<string> {
  const given = str(ctx.values, "parent");
  if (given !== undefined) return parentName(ctx, given);
  const type = resourceType(ctx, typeName);
  if (type.parents.length === 0) return "";
  if (type.parents.includes(ORGANIZATION)) return resolveOrganization(ctx);
  throw new UsageError(`--parent is required for ${withArticle(type.name)} (its parent is ${type.parents.map(withArticle).join(" or ")})`, ctx.command);
}

export const create: Command = {
  help: {
    name: "resources create",
    summary: "register a resource under its parent",
    usage: [
      "--resource-type organization --organization ID [--display-name TEXT]",
      "--resource-type TYPE --resource-id ID [--parent NAME] [--display-name TEXT]",
    ],
    details: [
      "e.g. policy resources create --resource-type cloud --resource-id cld_abc123 --display-name Production",
      "Without --parent, a cloud or project goes into the current organization.",
    ],
  },
  options: {
    ...RESOURCE_OPTIONS,
    parent: { type: "string", value: "NAME", help: "the parent, e.g. organizations/acme or clouds/cld_abc123" },
    "display-name": { type: "string", value: "TEXT", help: "a human-readable name" },
  },
  async run(ctx) {
    const name = await resolveResource(ctx, { creating: true });
    const type = typeOfName(ctx, name);
    const parent = await parentOf(ctx, type?.name ?? str(ctx.values, "resource-type") ?? "");
    const created = await ctx.api.resources.createResource({
      resource: { name, parent, displayName: str(ctx.values, "display-name") ?? "" },
    });
    printResource(ctx, created);
  },
};

export const get: Command = {
  help: { name: "resources get", summary: "show a resource", usage: [RESOURCE_USAGE] },
  options: { ...RESOURCE_OPTIONS },
  async run(ctx) {
    printResource(ctx, await ctx.api.resources.getResource({ name: await resolveResource(ctx) }));
  },
};

export const list: Command = {
  help: {
    name: "resources list",
    summary: "list resources, by type and/or parent",
    usage: ["[--resource-type TYPE] [--parent NAME]"],
    details: ["--parent lists its direct children; without options, every resource."],
  },
  options: {
    "resource-type": RESOURCE_OPTIONS["resource-type"]!,
    parent: { type: "string", value: "NAME", help: "only the direct children of this resource" },
  },
  async run(ctx) {
    const typeName = str(ctx.values, "resource-type");
    const type = typeName === undefined ? undefined : resourceType(ctx, typeName);
    const parent = str(ctx.values, "parent");
    const all = await allPages(async (pageToken) => {
      const page = await ctx.api.resources.listResources({
        type: type?.name ?? "",
        parent: parent === undefined ? "" : parentName(ctx, parent),
        pageSize: 1000,
        pageToken,
      });
      return [page.resources, page.nextPageToken];
    });
    print(ctx, { resources: all.map((r) => toJson(ResourceSchema, r)) }, () =>
      all.length === 0
        ? "No resources."
        : table(
            ["Name", "Type", "Parent", "Display name"],
            all.map((r) => [r.name, r.type, r.parent || "-", r.displayName]),
          ),
    );
  },
};

export const move: Command = {
  help: {
    name: "resources move",
    summary: "move a resource (and its subtree) to another parent",
    usage: [`${RESOURCE_USAGE} --parent NAME [--etag ETAG]`],
    details: ["Its effective policy, and its descendants', change at once."],
  },
  options: {
    ...RESOURCE_OPTIONS,
    parent: { type: "string", value: "NAME", help: "the new parent" },
    etag: { type: "string", value: "ETAG", help: "move only if the resource still has this etag (else ABORTED)" },
  },
  async run(ctx) {
    const parent = parentName(ctx, required(ctx.values, "parent", ctx.command));
    const name = await resolveResource(ctx);
    const moved = await ctx.api.resources.updateResource({
      resource: { name, parent, etag: str(ctx.values, "etag") ?? "" },
      updateMask: { paths: ["parent"] },
    });
    printResource(ctx, moved);
  },
};

export const remove: Command = {
  help: {
    name: "resources delete",
    summary: "delete a resource and its policy",
    usage: [`${RESOURCE_USAGE} [--cascade [--yes]] [--etag ETAG]`],
    details: [
      "A resource with children is not deleted unless --cascade, which deletes its whole subtree.",
      "--cascade asks for confirmation on a terminal; elsewhere (scripts, pipes) it needs --yes.",
    ],
  },
  options: {
    ...RESOURCE_OPTIONS,
    cascade: { type: "boolean", help: "also delete its descendants and their policies" },
    yes: { type: "boolean", short: "y", help: "do not ask for confirmation of --cascade" },
    etag: { type: "string", value: "ETAG", help: "delete only if the resource still has this etag (else ABORTED)" },
  },
  async run(ctx) {
    const name = await resolveResource(ctx);
    if (flag(ctx.values, "cascade") && !flag(ctx.values, "yes")) {
      const asked = ctx.io.confirm(`Delete ${name}, every resource beneath it and their policies? This cannot be undone.`);
      if (asked === undefined) {
        throw new UsageError("--cascade deletes a whole subtree: confirm with --yes (there is no terminal to ask on)", ctx.command);
      }
      if (!(await asked)) {
        ctx.io.stderr("Nothing deleted.");
        return EXIT_FAILURE;
      }
    }
    const response = await ctx.api.resources.deleteResource({
      name,
      cascade: flag(ctx.values, "cascade"),
      etag: str(ctx.values, "etag") ?? "",
    });
    print(ctx, toJson(DeleteResourceResponseSchema, response), () =>
      response.deleted.length <= 1 ? `Deleted ${name}.` : `Deleted ${name} and ${response.deleted.length - 1} descendant(s).`,
    );
  },
};
