// policy roles list | get | grantable: the predefined roles of the schema, an organization's custom roles, and what
// can be granted on a resource (RoleService).
import { toJson } from "@bufbuild/protobuf";
import { RoleSchema, RoleStage, RoleView, type Role } from "../../../gen/policy/v1/role_pb.js";
import { flag, required, RESOURCE_OPTIONS, str } from "../args.js";
import type { Context } from "../context.js";
import { print, table } from "../output.js";
import { normaliseRole } from "../policy-file.js";
import { parentName, resolveResource } from "../resource-ref.js";
import type { Command } from "./command.js";

function stageName(stage: RoleStage): string {
  return (RoleStage[stage] ?? String(stage)).replace(/^UNSPECIFIED$/, "-");
}

/** Prints roles; `none` is the sentence for an empty listing. */
function printRoles(ctx: Context, roles: Role[], none: string): void {
  print(ctx, { roles: roles.map((r) => toJson(RoleSchema, r)) }, () =>
    roles.length === 0 ? none : table(
      ["Role", "Title", "Stage", "Grantable on", "Permissions"],
      roles.map((r) => [
        r.deleted ? `${r.name} (deleted)` : r.name,
        r.title || "-",
        stageName(r.stage),
        r.resourceTypes.join(", ") || "-",
        // Empty: a custom role the caller may not read with GetRole (every role has at least one permission).
        r.includedPermissions.length > 0 ? String(r.includedPermissions.length) : "-",
      ]),
    ),
  );
}

/** Every page of a role listing. */
async function allPages(read: (pageToken: string) => Promise<{ roles: Role[]; nextPageToken: string }>): Promise<Role[]> {
  const roles: Role[] = [];
  let pageToken = "";
  do {
    const page = await read(pageToken);
    roles.push(...page.roles);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return roles;
}

export const list: Command = {
  help: {
    name: "roles list",
    summary: "list the predefined roles, or an organization's custom roles",
    usage: ["[--parent organizations/ID] [--show-deleted]"],
    details: ["Without --parent, the predefined roles of the schema; with it, the custom roles defined on it."],
  },
  options: {
    parent: { type: "string", value: "NAME", help: "an organization, for its custom roles" },
    "show-deleted": { type: "boolean", help: "also list deleted custom roles" },
  },
  async run(ctx) {
    const given = str(ctx.values, "parent");
    const parent = given === undefined ? "" : parentName(ctx, given);
    const showDeleted = flag(ctx.values, "show-deleted");
    const roles = await allPages((pageToken) => ctx.api.roles.listRoles({ parent, showDeleted, view: RoleView.FULL, pageSize: 1000, pageToken }));
    const none = parent
      ? `${parent} has no custom roles. \`policy roles list\` (without --parent) lists the predefined roles.`
      : "The schema defines no predefined roles.";
    printRoles(ctx, roles, none);
  },
};

export const get: Command = {
  help: {
    name: "roles get",
    summary: "show a role and its permissions",
    usage: ["--role ROLE"],
    details: ["e.g. policy roles get --role owner (roles/owner), or --role organizations/acme/roles/deployer"],
  },
  options: {
    role: { type: "string", value: "ROLE", help: "owner (roles/owner), roles/{id} or organizations/{org}/roles/{id}" },
  },
  async run(ctx) {
    // A bare name is a predefined role, as in policy files and add-binding.
    const role = await ctx.api.roles.getRole({ name: normaliseRole(required(ctx.values, "role", ctx.command)) });
    print(ctx, toJson(RoleSchema, role), () =>
      table(
        ["Field", "Value"],
        [
          ["Name", role.name],
          ["Title", role.title || "-"],
          ["Description", role.description || "-"],
          ["Stage", stageName(role.stage)],
          ["Deleted", role.deleted ? "yes" : "no"],
          ["Grantable on", role.resourceTypes.join(", ") || "-"],
          ["Permissions", role.includedPermissions.join("\n")],
        ],
      ),
    );
  },
};

export const grantable: Command = {
  help: {
    name: "roles grantable",
    summary: "list the roles that can be granted on a resource",
    usage: ["--resource-type TYPE [--resource-id ID]"],
    details: ["The predefined roles of its type, then its organization's custom roles that can be granted on it."],
  },
  options: { ...RESOURCE_OPTIONS },
  async run(ctx) {
    const resource = await resolveResource(ctx);
    const roles = await allPages((pageToken) => ctx.api.roles.queryGrantableRoles({ resource, view: RoleView.FULL, pageSize: 1000, pageToken }));
    printRoles(ctx, roles, `No role can be granted on ${resource}.`);
  },
};
