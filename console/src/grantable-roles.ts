// The roles a policy editor offers on a resource: RoleService.QueryGrantableRoles, so the organization's custom roles
// are offered with the predefined ones. When the caller may not ask (or the call fails), the schema's predefined roles
// of the resource's type, as before the roles service. The full view: the permissions of each role (of a custom role
// only when the user may read it with GetRole; empty otherwise).
import { RoleView } from "../../gen/policy/v1/role_pb.js";
import { api } from "./api.js";
import type { RoleInfo, Schema } from "./schema.js";

export async function grantableRoles(schema: Schema, resource: string): Promise<RoleInfo[]> {
  try {
    const roles: RoleInfo[] = [];
    let pageToken = "";
    do {
      const page = await api.roles.queryGrantableRoles({ resource, view: RoleView.FULL, pageSize: 1000, pageToken });
      for (const role of page.roles) {
        roles.push({ name: role.name, title: role.title, description: role.description, permissions: role.includedPermissions });
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return roles;
  } catch {
    return schema.rolesOf(resource);
  }
}
