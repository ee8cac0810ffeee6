// Authorization by the service's own policies: a caller may do a thing on a resource when a binding on it or an
// ancestor grants the permission. A caller that may not even see the resource (`{collection}.get`) is told it does
// not exist, exactly as for an absent one, so hidden resources cannot be discovered.
import { ServiceError, Violations, notFound } from "../../service-error.js";
import type { Actor, StoredPolicy } from "../../store/store.js";
import { requireResourceName, typeOfName } from "../names.js";
import { READ_VERB, readPermission, SHARED_POLICY_READ } from "./read-permissions.js";
import type { ResourceSchema, ResourceType } from "../../schema/schema.js";
import { validatePermissions, type Access } from "./access.js";
import type { ChainDisclosure } from "./disclosure.js";
import type { CallResources, ResolvedResource } from "./resolved.js";

/** An authenticated caller: its principal and every identity it holds (the principal and its groups). */
export interface Caller extends Actor {
  identities: readonly string[];
}

export const ANONYMOUS: Caller = { principal: "anonymous", identities: [] };

export class Authorizer {
  constructor(
    private readonly access: Access,
    private readonly schema: ResourceSchema,
    private readonly admins: ReadonlySet<string>,
    /** false in development mode: every call is allowed. */
    readonly enforcing: boolean,
  ) {}

  /** The memo of one call's resources, shared by its checks, its handler and read auditing. */
  callResources(): CallResources {
    return this.access.callResources();
  }

  /** Bootstrap administrators (from the server's configuration) may do everything. */
  isAdmin(caller: Caller): boolean {
    return caller.identities.some((identity) => this.admins.has(identity));
  }

  /**
   * Throws PERMISSION_DENIED, or NOT_FOUND when the caller may not see `resource`. An absent resource is NOT_FOUND
   * here too, with the same message: the handler must not run unchecked (its own answer for an absent name could
   * differ from this one and tell hidden from absent, and a resource written by another process and not yet in the
   * index would be reachable without a check). Administrators pass, and the handler reports what is absent.
   */
  async require(caller: Caller, resource: ResolvedResource, permission: string): Promise<void> {
    if (!this.enforcing || this.isAdmin(caller)) return;
    const type = resource.type;
    if (typeof type === "string") return; // the handler reports the bad name
    const visibility = `${type.collection}.${READ_VERB.resource}`;
    const held = await this.access.holds(resource, caller.identities, [permission, visibility]);
    if (held === undefined) throw notFound(resource.name);
    if (held[0]) return;
    if (!held[1]) throw notFound(resource.name);
    throw new ServiceError(
      "permission_denied",
      `${caller.principal} lacks permission "${permission}" on "${resource.name}"; ask an owner of it or of an ancestor for a role that grants it`,
    );
  }

  /**
   * What of a chain an answer may show `caller`: the links on which it holds `linkPermission` (named for each), of them
   * the deny policies it may read (`{collection}.getDenyPolicy`) and the shared policies (`sharedPolicies.get`, each
   * resolved through `resolve`, the call's memo), each as the read of it alone would need. undefined: all of it
   * (administrators, development mode).
   */
  disclosure(caller: Caller, linkPermission: (link: string) => string, resolve: (name: string) => ResolvedResource): ChainDisclosure | undefined {
    if (!this.enforcing || this.isAdmin(caller)) return undefined;
    return {
      links: (chain) => this.access.holdsAlong(chain, caller.identities, linkPermission),
      denyPolicies: (chain) => this.access.holdsAlong(chain, caller.identities, (link) => readPermission(link, "denyPolicy")),
      sharedPolicies: async (names) => {
        const chains = await Promise.all(names.map((name) => resolve(name).chain()));
        const held = this.access.holdsInEach(chains, caller.identities, SHARED_POLICY_READ.policy);
        return new Set(names.filter((_, i) => held[i]));
      },
    };
  }

  /** Whether `caller` holds `permission` on the resource `chain` is of (true for administrators, development mode). */
  holdsIn(caller: Caller, chain: readonly StoredPolicy[], permission: string): boolean {
    if (!this.enforcing || this.isAdmin(caller)) return true;
    return this.access.holdsIn(chain, caller.identities, permission);
  }

  /**
   * Whether `caller` holds each of `permissions` on the resource `name` (all true for administrators and in
   * development mode; all false when it does not exist). For answers that show or do something per resource of a
   * list, where one refusal must not fail the whole call.
   */
  async holdsOn(caller: Caller, name: string, permissions: readonly string[]): Promise<boolean[]> {
    if (!this.enforcing || this.isAdmin(caller)) return permissions.map(() => true);
    return (await this.access.holdsAt(name, caller.identities, permissions)) ?? permissions.map(() => false);
  }

  /**
   * When `caller` holds `permission` on `resource`, the resource registered under its name now: the change-log
   * sequence of its creation (rows of the name before it are a predecessor's). undefined when it does not, or there is
   * no such resource. Administrators and development mode are the caller's to let through before asking.
   */
  async heldSince(caller: Caller, resource: ResolvedResource, permission: string): Promise<number | undefined> {
    const chain = await resource.chain();
    if (!chain || !this.access.holdsIn(chain, caller.identities, permission)) return undefined;
    return chain[0]!.createSeq;
  }

  /** Whether `caller` may see the resource `name` (`{collection}.get`), as the refusals above decide it. */
  async sees(caller: Caller, name: string): Promise<boolean> {
    const type = typeOfName(this.schema, name);
    if (typeof type === "string") return false;
    return (await this.holdsOn(caller, name, [`${type.collection}.${READ_VERB.resource}`]))[0]!;
  }

  /**
   * The child types of `parent` whose `{collection}.list` the caller holds on it: what a listing without a type may
   * show, as the typed listings it could make would. undefined: every type (administrators, development mode).
   */
  async listableUnder(caller: Caller, parent: ResolvedResource): Promise<ResourceType[] | undefined> {
    if (!this.enforcing || this.isAdmin(caller)) return undefined;
    const type = parent.type;
    if (typeof type === "string") return undefined; // the handler reports the bad name
    const children = [...this.schema.types.values()].filter((child) => child.parents.includes(type.name));
    const held = await this.access.holds(parent, caller.identities, children.map((child) => `${child.collection}.list`));
    return children.filter((_, i) => held?.[i]);
  }

  /** Whether `caller` is refused nothing: an administrator, or anyone in development mode. */
  isUnrestricted(caller: Caller): boolean {
    return !this.enforcing || this.isAdmin(caller);
  }

  /** Only administrators may do what has no resource to check (create a root, list everything). */
  requireAdmin(caller: Caller, what: string): void {
    if (!this.enforcing || this.isAdmin(caller)) return;
    throw new ServiceError("permission_denied", `only the server's administrators may ${what}`);
  }

  /** TestIamPermissions: the subset of `permissions` the caller holds; NOT_FOUND when it may not see the resource. */
  async permissionsOf(caller: Caller, resource: ResolvedResource, permissions: readonly string[]): Promise<string[]> {
    const type = requireResourceName(this.schema, "resource", resource.name, resource.type);
    const violations = new Violations();
    validatePermissions(this.schema, permissions, violations, "permissions");
    violations.throwIfAny();
    const visibility = `${type.collection}.${READ_VERB.resource}`;
    const held = await this.access.holds(resource, caller.identities, [...permissions, visibility]);
    if (held === undefined) throw notFound(resource.name);
    if (!this.enforcing || this.isAdmin(caller)) return [...permissions];
    if (!held.at(-1)) throw notFound(resource.name);
    return permissions.filter((_, i) => held[i]);
  }
}
