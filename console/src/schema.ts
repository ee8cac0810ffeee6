// The resource schema (types, parents, predefined roles), read once from /console/schema.json: the API has no call
// for the hierarchy's types, so the server publishes the schema it loaded beside the console's files. The roles a
// policy editor offers come from RoleService (grantable-roles.ts), which knows the organization's custom roles too.
export interface RoleInfo {
  name: string;
  title: string;
  description: string;
  permissions: string[];
}

export interface TypeInfo {
  name: string;
  collection: string;
  parents: string[];
  roles: RoleInfo[];
}

export class Schema {
  constructor(readonly types: TypeInfo[]) {}

  static async load(): Promise<Schema> {
    const res = await fetch("schema.json");
    if (!res.ok) throw new Error(`could not read the schema: HTTP ${res.status}`);
    return new Schema(((await res.json()) as { types: TypeInfo[] }).types);
  }

  get roots(): TypeInfo[] {
    return this.types.filter((t) => t.parents.length === 0);
  }

  typeOf(name: string): TypeInfo | undefined {
    const collection = name.slice(0, name.indexOf("/"));
    return this.types.find((t) => t.collection === collection);
  }

  childTypes(type: string): TypeInfo[] {
    return this.types.filter((t) => t.parents.includes(type));
  }

  rolesOf(resource: string): RoleInfo[] {
    return this.typeOf(resource)?.roles ?? [];
  }

  /** Whether the schema knows this concrete permission (TestIamPermissions refuses one it does not). */
  knows(permission: string): boolean {
    return this.permissionSet.has(permission);
  }

  private get permissionSet(): Set<string> {
    return (this.known ??= new Set(this.permissions));
  }

  private known: Set<string> | undefined;

  get permissions(): string[] {
    return [...new Set(this.types.flatMap((t) => t.roles.flatMap((r) => r.permissions)))].sort();
  }
}
