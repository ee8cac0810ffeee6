// Custom roles as checks and writes see them: a role defined on a root resource (an organization), named
// `{root}/roles/{id}`, that grants its permissions where bindings on that root or its descendants name it.
import { RoleStage, type Role } from "../../gen/policy/v1/role_pb.js";
import { isDeepFrozen } from "../frozen-value.js";
import { typesGranting, type ResourceSchema } from "../schema/schema.js";

export const ROLE_ID = /^[a-zA-Z][a-zA-Z0-9_.]{2,63}$/;
const CUSTOM_ROLE_NAME = /^([a-z][a-zA-Z0-9]{0,62}\/[^/]+)\/roles\/([^/]+)$/;

/** The parent and id of a custom role's name, or undefined when `name` is not one (e.g. `roles/owner`). */
export function parseCustomRoleName(name: string): { parent: string; roleId: string } | undefined {
  const match = CUSTOM_ROLE_NAME.exec(name);
  return match ? { parent: match[1]!, roleId: match[2]! } : undefined;
}

export function isCustomRoleName(name: string): boolean {
  return !name.startsWith("roles/") && CUSTOM_ROLE_NAME.test(name);
}

/** What a custom role grants, and on which types. */
export interface GrantingRole {
  permissions: ReadonlySet<string>;
  types: ReadonlySet<string>;
}

const granting = new WeakMap<Role, GrantingRole | null>();

/**
 * What `role` grants now: undefined when it is deleted or DISABLED (its bindings stay stored and grant nothing).
 * Memoised by the frozen role object of a chain link, which is replaced when the role changes.
 */
export function grantingRole(schema: ResourceSchema, role: Role): GrantingRole | undefined {
  const memo = granting.get(role);
  if (memo !== undefined) return memo ?? undefined;
  const result =
    role.deleted || role.stage === RoleStage.DISABLED
      ? null
      : { permissions: new Set(role.includedPermissions), types: new Set(typesGranting(schema, role.includedPermissions)) };
  if (isDeepFrozen(role)) granting.set(role, result);
  return result ?? undefined;
}
