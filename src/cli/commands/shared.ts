// policy shared create | get | update | delete | list | bind | unbind | bindings: shared policies (AIP-2511) and the
// resources they are bound to (SharedPolicyService). Files are the forms `policy set` reads, plus deny rules.
import { toJson } from "@bufbuild/protobuf";
import { SharedPolicyBindingSchema, SharedPolicySchema, type SharedPolicy, type SharedPolicyBinding } from "../../../gen/policy/v1/shared_policy_pb.js";
import { flag, required, str } from "../args.js";
import type { Context } from "../context.js";
import { CliError, UsageError } from "../command-errors.js";
import { conditionCell, print, table } from "../output.js";
import { allPages } from "../pages.js";
import { parseSharedPolicyFile } from "../policy-file.js";
import { parentName, resolveOrganization } from "../resource-ref.js";
import type { Command } from "./command.js";
import { readSource } from "./policies.js";

const COLLECTION = "sharedPolicies";
const NAME_OPTION = { type: "string", value: "NAME", help: `the shared policy: ${COLLECTION}/{id}, or its id` } as const;

/** `baseline` -> `sharedPolicies/baseline`; a full name is kept. */
function sharedName(ctx: Context, given: string): string {
  if (!given.includes("/")) return `${COLLECTION}/${given}`;
  if (given.startsWith(`${COLLECTION}/`)) return given;
  throw new UsageError(`"${given}" is not a shared policy: expected ${COLLECTION}/{id} or an id`, ctx.command);
}

function printShared(ctx: Context, policy: SharedPolicy): void {
  print(ctx, toJson(SharedPolicySchema, policy), () =>
    [
      table(
        ["Field", "Value"],
        [
          ["Name", policy.name],
          ["Organization", policy.parent],
          ["Display name", policy.displayName || "-"],
          ["Description", policy.description || "-"],
        ],
      ),
      table(
        ["Role", "Members", "Condition"],
        policy.bindings.map((b) => [b.role, b.members.join("\n"), conditionCell(b.condition)]),
      ),
      ...(policy.denyRules.length === 0
        ? []
        : [
            table(
              ["Deny rule", "Principals", "Permissions"],
              policy.denyRules.map((r, i) => [r.description || `#${i}`, r.deniedPrincipals.join("\n"), r.deniedPermissions.join("\n")]),
            ),
          ]),
    ].join("\n"),
  );
}

function printBindings(ctx: Context, bindings: SharedPolicyBinding[]): void {
  print(ctx, { bindings: bindings.map((b) => toJson(SharedPolicyBindingSchema, b)) }, () =>
    table(["Shared policy", "Bound to"], bindings.map((b) => [b.sharedPolicy, b.target])),
  );
}

const FILE_OPTION = { type: "string", short: "f", value: "FILE", help: "the shared-policy file; - reads standard input" } as const;
const FILE_DETAILS = [
  "The file has the bindings of a policy file (either form `policy set` reads), and optionally:",
  "",
  "  display_name: Production baseline",
  "  description: What every production cloud gets",
  "  deny_rules:",
  "    - deniedPrincipals: [group:contractors]",
  "      deniedPermissions: [projects.delete]",
  "  etag: BwYd3Jm2Cfs=          (update: only if unchanged since `shared get -o yaml`)",
];

export const create: Command = {
  help: {
    name: "shared create",
    summary: "create a shared policy in an organization from a YAML or JSON file",
    usage: ["--id ID -f FILE [--parent organizations/ID]"],
    details: FILE_DETAILS,
  },
  options: {
    id: { type: "string", value: "ID", help: `the new shared policy's id (it is named ${COLLECTION}/{id})` },
    parent: { type: "string", value: "NAME", help: "its organization; default: the current one" },
    file: FILE_OPTION,
  },
  async run(ctx) {
    const id = required(ctx.values, "id", ctx.command);
    const file = required(ctx.values, "file", ctx.command);
    const given = str(ctx.values, "parent");
    const parent = given === undefined ? await resolveOrganization(ctx) : parentName(ctx, given);
    const { sharedPolicy } = parseSharedPolicyFile(await readSource(ctx, file), file === "-" ? "<stdin>" : file);
    printShared(ctx, await ctx.api.sharedPolicies.createSharedPolicy({ parent, sharedPolicyId: id, sharedPolicy }));
  },
};

export const get: Command = {
  help: { name: "shared get", summary: "show a shared policy", usage: ["--name NAME"], details: ["-o yaml writes a file `shared update` reads back."] },
  options: { name: NAME_OPTION },
  async run(ctx) {
    printShared(ctx, await ctx.api.sharedPolicies.getSharedPolicy({ name: sharedName(ctx, required(ctx.values, "name", ctx.command)) }));
  },
};

export const update: Command = {
  help: {
    name: "shared update",
    summary: "update the fields of a shared policy that a file sets",
    usage: ["--name NAME -f FILE"],
    details: [...FILE_DETAILS, "", "Only the fields in the file change; with its etag, only if nobody changed the policy since."],
  },
  options: { name: NAME_OPTION, file: FILE_OPTION },
  async run(ctx) {
    const name = sharedName(ctx, required(ctx.values, "name", ctx.command));
    const file = required(ctx.values, "file", ctx.command);
    const { sharedPolicy, paths } = parseSharedPolicyFile(await readSource(ctx, file), file === "-" ? "<stdin>" : file);
    if (paths.length === 0) throw new CliError(`${file}: nothing to update`, "set bindings, deny_rules, display_name or description");
    sharedPolicy.name = name;
    printShared(ctx, await ctx.api.sharedPolicies.updateSharedPolicy({ sharedPolicy, updateMask: { paths } }));
  },
};

export const remove: Command = {
  help: {
    name: "shared delete",
    summary: "delete a shared policy",
    usage: ["--name NAME [--force]"],
    details: ["A shared policy still bound to resources is kept, unless --force deletes its bindings with it."],
  },
  options: { name: NAME_OPTION, force: { type: "boolean", help: "also delete its bindings" } },
  async run(ctx) {
    const name = sharedName(ctx, required(ctx.values, "name", ctx.command));
    const deleted = await ctx.api.sharedPolicies.deleteSharedPolicy({ name, force: flag(ctx.values, "force") });
    print(ctx, { name, deletedBindings: deleted.deletedBindings, sequence: String(deleted.sequence) }, () =>
      `Deleted ${name}${deleted.deletedBindings > 0 ? ` and its ${deleted.deletedBindings} binding(s)` : ""}.`,
    );
  },
};

export const list: Command = {
  help: { name: "shared list", summary: "list the shared policies of an organization", usage: ["[--parent organizations/ID] [--filter TEXT]"], details: [] },
  options: {
    parent: { type: "string", value: "NAME", help: "the organization; default: the current one" },
    filter: { type: "string", value: "TEXT", help: "only those whose name, display name or description contains it" },
  },
  async run(ctx) {
    const given = str(ctx.values, "parent");
    const parent = given === undefined ? await resolveOrganization(ctx) : parentName(ctx, given);
    const filter = str(ctx.values, "filter") ?? "";
    const policies = await allPages(async (pageToken) => {
      const page = await ctx.api.sharedPolicies.listSharedPolicies({ parent, filter, pageSize: 1000, pageToken });
      return [page.sharedPolicies, page.nextPageToken];
    });
    print(ctx, { sharedPolicies: policies.map((p) => toJson(SharedPolicySchema, p)) }, () =>
      table(
        ["Name", "Display name", "Bindings", "Deny rules"],
        policies.map((p) => [p.name, p.displayName || "-", String(p.bindings.length), String(p.denyRules.length)]),
      ),
    );
  },
};

const BINDING_OPTIONS = {
  policy: NAME_OPTION,
  resource: { type: "string", value: "NAME", help: "the resource, by full name, e.g. clouds/cld_abc123" },
} as const;

export const bind: Command = {
  help: {
    name: "shared bind",
    summary: "bind a shared policy to a resource (it applies to it and everything beneath it)",
    usage: ["--policy NAME --resource NAME"],
    details: ["Needs sharedPolicies.createBinding on the shared policy and {collection}.createSharedPolicyBinding on the resource."],
  },
  options: BINDING_OPTIONS,
  async run(ctx) {
    const sharedPolicy = sharedName(ctx, required(ctx.values, "policy", ctx.command));
    const target = parentName(ctx, required(ctx.values, "resource", ctx.command));
    printBindings(ctx, [await ctx.api.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy, target } })]);
  },
};

export const unbind: Command = {
  help: {
    name: "shared unbind",
    summary: "unbind a shared policy from a resource",
    usage: ["--policy NAME --resource NAME"],
    details: ["Needs sharedPolicies.deleteBinding on the shared policy or {collection}.deleteSharedPolicyBinding on the resource."],
  },
  options: BINDING_OPTIONS,
  async run(ctx) {
    const sharedPolicy = sharedName(ctx, required(ctx.values, "policy", ctx.command));
    const target = parentName(ctx, required(ctx.values, "resource", ctx.command));
    await ctx.api.sharedPolicies.deleteSharedPolicyBinding({ sharedPolicy, target });
    print(ctx, { sharedPolicy, target }, () => `Unbound ${sharedPolicy} from ${target}.`);
  },
};

export const bindings: Command = {
  help: {
    name: "shared bindings",
    summary: "list where a shared policy is bound, or which shared policies are bound to a resource",
    usage: ["--policy NAME", "--resource NAME"],
    details: [],
  },
  options: BINDING_OPTIONS,
  async run(ctx) {
    const policy = str(ctx.values, "policy");
    const resource = str(ctx.values, "resource");
    if ((policy === undefined) === (resource === undefined)) throw new UsageError("give --policy or --resource", ctx.command);
    const sharedPolicy = policy === undefined ? "" : sharedName(ctx, policy);
    const target = resource === undefined ? "" : parentName(ctx, resource);
    const found = await allPages(async (pageToken) => {
      const page = await ctx.api.sharedPolicies.listSharedPolicyBindings({ sharedPolicy, target, pageSize: 1000, pageToken });
      return [page.bindings, page.nextPageToken];
    });
    printBindings(ctx, found);
  },
};
