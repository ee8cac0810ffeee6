// The resource schema: which resource types exist, how they nest, and which roles (with which permissions) can be
// granted on each. It is data (a YAML file), loaded once at start; see schema-loader.ts.

export interface Role {
  /** e.g. `roles/owner` */
  readonly name: string;
  readonly title: string;
  readonly description: string;
  /** What the role allows on the resource it is granted on and on every descendant. */
  readonly permissions: ReadonlySet<string>;
}

export interface ResourceType {
  /** e.g. `cloud` */
  readonly name: string;
  /** The first segment of the type's resource names, e.g. `clouds`. */
  readonly collection: string;
  /** Types a resource of this type may be a child of; empty for a root type. */
  readonly parents: readonly string[];
  readonly roles: ReadonlyMap<string, Role>;
}

export interface ResourceSchema {
  readonly types: ReadonlyMap<string, ResourceType>;
  readonly typesByCollection: ReadonlyMap<string, ResourceType>;
  /** Every permission some role grants: a permission outside this set is a typo. */
  readonly permissions: ReadonlySet<string>;
  /**
   * By type name: every permission some role grantable on the type includes. A custom role can be granted on a type
   * when all its permissions are in that type's set, so it never grants on a type more than its predefined roles could.
   */
  readonly grantablePermissions: ReadonlyMap<string, ReadonlySet<string>>;
}

export function buildSchema(types: readonly ResourceType[]): ResourceSchema {
  const permissions = new Set<string>();
  for (const type of types) {
    for (const role of type.roles.values()) for (const p of role.permissions) permissions.add(p);
  }
  const grantablePermissions = new Map(
    types.map((t) => [t.name, new Set([...t.roles.values()].flatMap((role) => [...role.permissions]))] as const),
  );
  return {
    types: new Map(types.map((t) => [t.name, t])),
    typesByCollection: new Map(types.map((t) => [t.collection, t])),
    permissions,
    grantablePermissions,
  };
}

/** The names of the types a role with these permissions can be granted on (see grantablePermissions). */
export function typesGranting(schema: ResourceSchema, permissions: Iterable<string>): string[] {
  const wanted = [...permissions];
  return [...schema.grantablePermissions]
    .filter(([, granted]) => wanted.every((p) => granted.has(p)))
    .map(([type]) => type);
}

/** True when a resource of type `child` may live under a resource of type `parent` (undefined: as a root). */
export function allowsParent(child: ResourceType, parent: ResourceType | undefined): boolean {
  return parent === undefined ? child.parents.length === 0 : child.parents.includes(parent.name);
}
