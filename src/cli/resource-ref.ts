// Which resource a command acts on: --resource NAME, or --resource-type with --resource-id; organizations take no id
// and come from --organization, POLICY_ORGANIZATION, the config file, or are the only one that exists.
import { str } from "./args.js";
import type { ResourceType } from "../schema/schema.js";
import type { Context } from "./context.js";
import { CliError, UsageError } from "./command-errors.js";

export const ORGANIZATION = "organization";

/** The schema's type named `name` (a type name such as `cloud`, or its collection `clouds`). */
export function resourceType(ctx: Context, name: string): ResourceType {
  const type = ctx.schema.types.get(name) ?? ctx.schema.typesByCollection.get(name);
  if (!type) throw new UsageError(`unknown resource type "${name}"; known types: ${typeNames(ctx).join(", ")}`, ctx.command);
  return type;
}

/** The type of a full resource name, from its collection; undefined if the schema has no such collection. */
export function typeOfName(ctx: Context, resourceName: string): ResourceType | undefined {
  return ctx.schema.typesByCollection.get(resourceName.split("/")[0]!);
}

function typeNames(ctx: Context): string[] {
  return [...ctx.schema.types.keys()];
}

/** `collection/id` for `id`, or `id` itself when it is already a name of that collection. */
function nameIn(collection: string, id: string, flag: string, command: string): string {
  if (id.includes("/")) {
    if (id.startsWith(`${collection}/`) && id.split("/").length === 2) return id;
    throw new UsageError(`--${flag} "${id}" is not an id of a ${collection.replace(/s$/, "")} (e.g. ${collection}/ID)`, command);
  }
  return `${collection}/${id}`;
}

/**
 * The full name of the resource the options name. With `creating`, an organization must be named by the settings
 * (there is no "only organization" to fall back on).
 */
export async function resolveResource(ctx: Context, { creating = false, values = ctx.values } = {}): Promise<string> {
  const name = str(values, "resource");
  const typeName = str(values, "resource-type");
  const id = str(values, "resource-id");
  if (name !== undefined) {
    if (typeName !== undefined || id !== undefined) {
      throw new UsageError("give either --resource NAME or --resource-type with --resource-id, not both", ctx.command);
    }
    if (!/^[^/]+\/[^/]+$/.test(name)) {
      throw new UsageError(`--resource "${name}" is not a name such as clouds/cld_abc123`, ctx.command);
    }
    return name;
  }
  if (typeName === undefined) {
    throw new UsageError(
      `--resource-type is required (${typeNames(ctx).join(", ")}), with --resource-id; or give --resource NAME`,
      ctx.command,
    );
  }
  const type = resourceType(ctx, typeName);
  if (type.name === ORGANIZATION) {
    if (id !== undefined) {
      throw new UsageError(
        "--resource-id cannot be used with --resource-type organization: the organization comes from --organization, " +
          "POLICY_ORGANIZATION or the config file, or is the only one that exists",
        ctx.command,
      );
    }
    if (creating) {
      const name = configuredOrganization(ctx);
      if (!name) throw new UsageError("--organization ID is required to create an organization", ctx.command);
      return name;
    }
    return resolveOrganization(ctx);
  }
  if (id === undefined || id === "") {
    throw new UsageError(`--resource-id is required with --resource-type ${type.name}`, ctx.command);
  }
  return nameIn(type.collection, id, "resource-id", ctx.command);
}

/** The organization named by the settings; without one, the only organization on the server. */
export async function resolveOrganization(ctx: Context): Promise<string> {
  const collection = resourceType(ctx, ORGANIZATION).collection;
  const given = configuredOrganization(ctx);
  if (given) return given;
  const { resources } = await ctx.api.resources.listResources({ type: ORGANIZATION, pageSize: 11 });
  if (resources.length === 1) return resources[0]!.name;
  if (resources.length === 0) {
    throw new CliError(
      "there is no organization on the server",
      `create one: policy resources create --resource-type organization --organization ID`,
    );
  }
  const names = resources.slice(0, 10).map((r) => r.name.slice(collection.length + 1));
  throw new CliError(
    `there are several organizations (${names.join(", ")}${resources.length > 10 ? ", ..." : ""}): which one?`,
    "choose with --organization ID, the POLICY_ORGANIZATION environment variable, or `organization` in the config file",
  );
}

/** The organization the settings name, as a full name; undefined when none is configured. */
export function configuredOrganization(ctx: Context): string | undefined {
  const given = ctx.settings.organization;
  if (given === undefined || given === "") return undefined;
  const collection = resourceType(ctx, ORGANIZATION).collection;
  return nameIn(collection, given, "organization", ctx.command);
}

/** A parent is given as a full name, e.g. clouds/cld_abc123. */
export function parentName(ctx: Context, parent: string): string {
  if (parent.includes("/")) return parent;
  throw new UsageError(`--parent "${parent}" must be a full name such as organizations/acme or clouds/cld_abc123`, ctx.command);
}
