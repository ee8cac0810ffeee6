// The roles facade: predefined roles (the schema's) and custom roles (defined on root resources such as
// organizations), what is grantable and testable on a resource, and the custom-role lifecycle — create, update with
// etag, delete and undelete within UNDELETE_WINDOW_MS. A deleted or DISABLED role grants nothing while the bindings
// that name it stay stored (checks resolve it from the chain: see access/chain-check.ts).
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampNow } from "@bufbuild/protobuf/wkt";
import { RoleSchema, RoleStage, RoleView, type Role } from "../../gen/policy/v1/role_pb.js";
import type {
  CreateRoleRequest,
  DeleteRoleRequest,
  GetRoleRequest,
  ListRolesRequest,
  QueryGrantableRolesRequest,
  QueryTestablePermissionsRequest,
  UndeleteRoleRequest,
  UpdateRoleRequest,
} from "../../gen/policy/v1/role_service_pb.js";
import { ServiceError, Violations, invalidArgument, notFound, staleEtag } from "../service-error.js";
import type { Actor, Store, StoredPolicy } from "../store/store.js";
import { ROLE_ID, parseCustomRoleName } from "./custom-roles.js";
import { sameEtag } from "../etag.js";
import { listRoles, updateRole } from "./kinds.js";
import { requireResourceName, typeOfName } from "./names.js";
import type { Page, PageTokens } from "./page-token.js";
import { MAX_CONDITION_DESCRIPTION, MAX_CONDITION_TITLE } from "./binding-validation.js";
import { typesGranting, type ResourceSchema, type ResourceType } from "../schema/schema.js";
import { fromStore } from "./store-errors.js";
import { withArticle } from "../article.js";

/** How long a deleted custom role can be undeleted (IAM: 7 days). */
export const UNDELETE_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
/** Custom roles per organization (IAM: 300). */
export const MAX_CUSTOM_ROLES = 300;
const MAX_ROLE_PERMISSIONS = 3000;
const UPDATABLE = ["title", "description", "included_permissions", "stage"];
const STAGES = [RoleStage.GA, RoleStage.BETA, RoleStage.DEPRECATED, RoleStage.DISABLED];

/**
 * Whether the caller may read the custom roles of `organization` whole, as GetRole would need
 * (`organizations.getRole` on it).
 */
export type CustomRoleReader = (organization: string) => Promise<boolean>;

export class Roles {
  /** The predefined roles by name: one per name, its permissions the union over the types it is grantable on. */
  private readonly predefined: ReadonlyMap<string, Role>;
  /** The same in the basic view. */
  private readonly predefinedBasic: ReadonlyMap<string, Role>;

  constructor(
    private readonly store: Store,
    private readonly schema: ResourceSchema,
    private readonly pageTokens: PageTokens,
  ) {
    this.predefined = predefinedRoles(schema);
    this.predefinedBasic = new Map([...this.predefined].map(([name, role]) => [name, basicView(role)]));
  }

  /** `mayRead` says whether the caller may see the custom roles' permissions (undefined: it may). */
  async list({ parent, pageSize, pageToken, showDeleted, view }: ListRolesRequest, mayRead?: CustomRoleReader): Promise<Page<Role>> {
    const full = requireFull(view);
    let roles: Role[];
    if (parent === "") roles = [...(full ? this.predefined : this.predefinedBasic).values()];
    else {
      const custom = (await this.customRoles(parent, "parent")).filter((r) => showDeleted || !r.deleted);
      roles = full && (await mayRead?.(parent)) !== false ? custom : custom.map(basicView);
    }
    return this.page(roles, { pageSize, pageToken }, ["ListRoles", parent, showDeleted]);
  }

  async get({ name }: GetRoleRequest): Promise<Role> {
    const predefined = this.predefined.get(name);
    if (predefined) return predefined;
    const custom = parseCustomRoleName(name);
    if (!custom) throw roleNotFound(name);
    const role = (await this.customRoles(custom.parent, "name")).find((r) => r.name === name);
    if (!role) throw roleNotFound(name);
    return role;
  }

  /**
   * `readChain` is the resource's chain, as the call has read it; `mayRead` says whether the caller may see the
   * permissions of its organization's custom roles (undefined: it may). IAM's basic view by default: what a caller
   * who may see the resource needs to choose a role, not what each custom role grants.
   */
  async queryGrantable(
    { resource, pageSize, pageToken, view }: QueryGrantableRolesRequest,
    readChain: () => Promise<StoredPolicy[] | undefined>,
    mayRead?: CustomRoleReader,
  ): Promise<Page<Role>> {
    const type = requireResourceName(this.schema, "resource", resource);
    const full = requireFull(view);
    const chain = await readChain();
    if (!chain) throw notFound(resource);
    const predefined = [...type.roles.keys()].map((name) => (full ? this.predefined : this.predefinedBasic).get(name)!);
    const custom = (chain.at(-1)!.roles ?? []).map((r) => this.present(r)).filter((r) => !r.deleted && r.resourceTypes.includes(type.name));
    const fullCustom = full && custom.length > 0 && (await mayRead?.(chain.at(-1)!.resource.name)) !== false;
    return this.page([...predefined, ...(fullCustom ? custom : custom.map(basicView))], { pageSize, pageToken }, ["QueryGrantableRoles", resource]);
  }

  async queryTestable({ resource, pageSize, pageToken }: QueryTestablePermissionsRequest): Promise<Page<string>> {
    const type = requireResourceName(this.schema, "resource", resource);
    if (!(await this.store.getResource(resource))) throw notFound(resource);
    const permissions = [...this.schema.grantablePermissions.get(type.name)!].sort();
    const filter = JSON.stringify(["QueryTestablePermissions", resource]);
    return this.pageTokens.page({ pageSize, pageToken }, filter, async (after, limit) => afterKey(permissions, (p) => p, after, limit), (p) => p);
  }

  async create({ parent, roleId, role }: CreateRoleRequest, actor: Actor): Promise<Role> {
    const violations = new Violations();
    this.requireRoot(parent, "parent", violations);
    if (!ROLE_ID.test(roleId)) violations.add("role_id", `"${roleId}" must match ${ROLE_ID}`);
    if (!role) violations.add("role", "is required");
    else this.validate(role, UPDATABLE, violations, "role");
    violations.throwIfAny();
    if ((await this.customRoles(parent, "parent")).length >= MAX_CUSTOM_ROLES) {
      throw new ServiceError("failed_precondition", `${parent} has ${MAX_CUSTOM_ROLES} custom roles, the most it may have; delete one first`);
    }
    const name = `${parent}/roles/${roleId}`;
    const decide = (stored: Role | undefined) => {
      if (stored) {
        throw new ServiceError(
          "already_exists",
          `role "${name}" already exists${stored.deleted ? " (deleted: undelete it, or choose another id; ids are not reused)" : ""}`,
        );
      }
      return create(RoleSchema, {
        name,
        title: role!.title,
        description: role!.description,
        includedPermissions: [...new Set(role!.includedPermissions)].sort(),
        stage: role!.stage === RoleStage.UNSPECIFIED ? RoleStage.GA : role!.stage,
      });
    };
    return this.present(await fromStore(updateRole(this.store, parent, roleId, decide, actor), parent));
  }

  async update({ role, updateMask }: UpdateRoleRequest, actor: Actor): Promise<Role> {
    if (!role) throw invalidArgument([{ field: "role", description: "is required" }]);
    const { parent, roleId } = this.requireCustomName(role.name, "role.name");
    const paths = updateMask && updateMask.paths.length > 0 ? updateMask.paths : UPDATABLE;
    const violations = new Violations();
    paths.forEach((path, i) => {
      if (!UPDATABLE.includes(path)) violations.add(`update_mask.paths[${i}]`, `unknown path "${path}"; allowed: ${UPDATABLE.join(", ")}`);
    });
    this.validate(role, paths, violations, "role");
    violations.throwIfAny();
    const decide = (stored: Role | undefined) => {
      const current = this.requireStored(stored, role.name, role.etag);
      if (current.deleted) throw new ServiceError("failed_precondition", `role "${role.name}" is deleted; undelete it first`);
      const next = create(RoleSchema, current);
      if (paths.includes("title")) next.title = role.title;
      if (paths.includes("description")) next.description = role.description;
      if (paths.includes("included_permissions")) next.includedPermissions = [...new Set(role.includedPermissions)].sort();
      if (paths.includes("stage")) next.stage = role.stage === RoleStage.UNSPECIFIED ? RoleStage.GA : role.stage;
      return next;
    };
    return this.present(await fromStore(updateRole(this.store, parent, roleId, decide, actor)));
  }

  async delete({ name, etag }: DeleteRoleRequest, actor: Actor): Promise<Role> {
    const { parent, roleId } = this.requireCustomName(name, "name");
    const decide = (stored: Role | undefined) => {
      const current = this.requireStored(stored, name, etag);
      if (current.deleted) throw new ServiceError("failed_precondition", `role "${name}" is already deleted`);
      return create(RoleSchema, { ...current, deleted: true, deleteTime: timestampNow() });
    };
    return this.present(await fromStore(updateRole(this.store, parent, roleId, decide, actor)));
  }

  async undelete({ name, etag }: UndeleteRoleRequest, actor: Actor): Promise<Role> {
    const { parent, roleId } = this.requireCustomName(name, "name");
    const now = Date.now();
    const decide = (stored: Role | undefined) => {
      const current = this.requireStored(stored, name, etag);
      if (!current.deleted) throw new ServiceError("failed_precondition", `role "${name}" is not deleted`);
      if (current.deleteTime && now - timestampDate(current.deleteTime).getTime() > UNDELETE_WINDOW_MS) {
        throw new ServiceError("failed_precondition", `role "${name}" was deleted more than 7 days ago and can no longer be undeleted`);
      }
      return create(RoleSchema, { ...current, deleted: false, deleteTime: undefined });
    };
    return this.present(await fromStore(updateRole(this.store, parent, roleId, decide, actor)));
  }

  /** The custom roles of `parent`, presented; NOT_FOUND (or INVALID_ARGUMENT naming `field`) for a bad parent. */
  private async customRoles(parent: string, field: string): Promise<Role[]> {
    const violations = new Violations();
    this.requireRoot(parent, field, violations);
    violations.throwIfAny();
    const roles = await listRoles(this.store, parent);
    if (!roles) throw notFound(parent);
    return roles.map((r) => this.present(r));
  }

  /** A custom role as returned: with the types it can be granted on, as the schema says now. */
  private present(role: Role): Role {
    return create(RoleSchema, { ...role, resourceTypes: typesGranting(this.schema, role.includedPermissions) });
  }

  private requireRoot(parent: string, field: string, violations: Violations): ResourceType | undefined {
    const type = typeOfName(this.schema, parent);
    if (parent === "") violations.add(field, "is required: the organization the custom role is defined on");
    else if (typeof type === "string") violations.add(field, type);
    else if (type.parents.length > 0) violations.add(field, `custom roles are defined on root resources (organizations), not on ${withArticle(type.name)}`);
    else return type;
    return undefined;
  }

  private requireCustomName(name: string, field: string): { parent: string; roleId: string } {
    const parsed = parseCustomRoleName(name);
    const violations = new Violations();
    if (!parsed || !ROLE_ID.test(parsed.roleId)) {
      violations.add(field, `"${name}" is not a custom role name; expected organizations/{org}/roles/{id}`);
    } else this.requireRoot(parsed.parent, field, violations);
    violations.throwIfAny();
    return parsed!;
  }

  private requireStored(stored: Role | undefined, name: string, etag: Uint8Array): Role {
    if (!stored) throw roleNotFound(name);
    if (etag.length > 0 && !sameEtag(etag, stored.etag)) throw staleEtag("role");
    return stored;
  }

  /** The fields of `role` named by `paths`, validated against the schema. */
  private validate(role: Role, paths: readonly string[], violations: Violations, field: string): void {
    if (paths.includes("title") && role.title.length > MAX_CONDITION_TITLE) {
      violations.add(`${field}.title`, `longer than ${MAX_CONDITION_TITLE} characters`);
    }
    if (paths.includes("description") && role.description.length > MAX_CONDITION_DESCRIPTION) {
      violations.add(`${field}.description`, `longer than ${MAX_CONDITION_DESCRIPTION} characters`);
    }
    if (paths.includes("stage") && role.stage !== RoleStage.UNSPECIFIED && !STAGES.includes(role.stage)) {
      violations.add(`${field}.stage`, "must be GA, BETA, DEPRECATED or DISABLED");
    }
    if (!paths.includes("included_permissions")) return;
    const permissions = role.includedPermissions;
    if (permissions.length === 0) violations.add(`${field}.included_permissions`, "a role needs at least one permission");
    if (permissions.length > MAX_ROLE_PERMISSIONS) violations.add(`${field}.included_permissions`, `at most ${MAX_ROLE_PERMISSIONS}`);
    let known = true;
    permissions.forEach((p, i) => {
      if (!this.schema.permissions.has(p)) {
        known = false;
        violations.add(`${field}.included_permissions[${i}]`, `unknown permission "${p}" (wildcards are not allowed)`);
      }
    });
    if (known && permissions.length > 0 && typesGranting(this.schema, permissions).length === 0) {
      violations.add(
        `${field}.included_permissions`,
        "no resource type can be granted all of these permissions: split them into roles for different types",
      );
    }
  }

  private page<T extends { name: string }>(items: T[], request: { pageSize: number; pageToken: string }, filter: unknown[]): Promise<Page<T>> {
    return this.pageTokens.page(request, JSON.stringify(filter), async (after, limit) => afterKey(items, (r) => r.name, after, limit), (r) => r.name);
  }
}

/** Whether `view` asks for the full view; INVALID_ARGUMENT for a value RoleView does not have. */
function requireFull(view: RoleView): boolean {
  if (RoleView[view] === undefined) throw invalidArgument([{ field: "view", description: "must be ROLE_VIEW_BASIC or ROLE_VIEW_FULL" }]);
  return view === RoleView.FULL;
}

/**
 * A role in the basic view (AIP-157; IAM's RoleView.BASIC): what a caller needs to choose a role to grant — not what
 * it grants (`included_permissions`), nor the etag and times of a custom role's revisions.
 */
function basicView(role: Role): Role {
  const { name, title, description, stage, deleted, resourceTypes } = role;
  return create(RoleSchema, { name, title, description, stage, deleted, resourceTypes });
}

function roleNotFound(name: string): ServiceError {
  return new ServiceError("not_found", `role "${name}" not found; list roles with RoleService.ListRoles`);
}

/** Keyset paging over an in-memory list in its order: the items after the one whose key is `after`. */
function afterKey<T>(items: readonly T[], keyOf: (item: T) => string, after: string | undefined, limit: number): T[] {
  const start = after === undefined ? 0 : items.findIndex((item) => keyOf(item) === after) + 1;
  return items.slice(start, start + limit);
}

function predefinedRoles(schema: ResourceSchema): Map<string, Role> {
  const byName = new Map<string, Role>();
  for (const type of schema.types.values()) {
    for (const role of type.roles.values()) {
      const known = byName.get(role.name);
      const permissions = new Set([...(known?.includedPermissions ?? []), ...role.permissions]);
      byName.set(
        role.name,
        create(RoleSchema, {
          name: role.name,
          title: known?.title || role.title,
          description: known?.description || role.description,
          includedPermissions: [...permissions].sort(),
          stage: RoleStage.GA,
          resourceTypes: [...(known?.resourceTypes ?? []), type.name],
        }),
      );
    }
  }
  return new Map([...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
