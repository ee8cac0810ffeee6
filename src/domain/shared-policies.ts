// The shared-policy facade (AIP-2511): shared policies under an organization, and their bindings to resources in it.
// A shared policy is registered as a resource of the schema's `sharedPolicy` type, so it has a chain (itself, then
// its organization) and a dedicated access policy of its own, read and written with PolicyService on its name.
import { create, equals } from "@bufbuild/protobuf";
import type { FieldMask } from "@bufbuild/protobuf/wkt";
import {
  SharedPolicySchema,
  type SharedPolicy,
  type SharedPolicyBinding,
} from "../../gen/policy/v1/shared_policy_pb.js";
import type {
  CreateSharedPolicyBindingRequest,
  CreateSharedPolicyRequest,
  DeleteSharedPolicyBindingRequest,
  DeleteSharedPolicyRequest,
  GetSharedPolicyBindingRequest,
  GetSharedPolicyRequest,
  ListSharedPoliciesRequest,
  ListSharedPolicyBindingsRequest,
  UpdateSharedPolicyRequest,
} from "../../gen/policy/v1/shared_policy_service_pb.js";
import { ServiceError, Violations, invalidArgument, notFound, quoted, staleEtag } from "../service-error.js";
import { StoreError } from "../store/store-error.js";
import type { Actor, Store } from "../store/store.js";
import type { Authorizer, Caller } from "./access/authorizer.js";
import { compileInTurns } from "./conditions.js";
import { canonicalDenyRules } from "./deny-rules.js";
import { sameEtag } from "../etag.js";
import {
  getSharedPolicy,
  listBindings,
  listRoles,
  listSharedPolicies,
  updateBinding,
  updateSharedPolicy,
  type SharedPolicyBindingState,
  type SharedPolicyState,
} from "./kinds.js";
import { collectionOf, permissionOn, requireResourceName, typeOfName } from "./names.js";
import { MAX_PAGE_SIZE, pageSize, type PageTokens } from "./page-token.js";
import { canonicalBindings, writeConditionBudget } from "./binding-validation.js";
import { allowsParent, typesGranting, type ResourceSchema, type ResourceType } from "../schema/schema.js";
import { serviceErrorOf } from "./store-errors.js";
import { inTurns } from "./turns.js";
import { withArticle } from "../article.js";

/** The collection of shared policies' names: `sharedPolicies/{id}`. */
export const SHARED_POLICY_COLLECTION = "sharedPolicies";
/** Shared policies bound to one resource, at most (each adds to every check beneath it). */
export const MAX_SHARED_POLICIES_PER_RESOURCE = 20;
/**
 * Resources one shared policy is bound to, at most: an edit of its bindings or deny rules checks the editor's rights on
 * each of them, and a listing of its targets checks that the caller sees each one.
 */
export const MAX_TARGETS_PER_SHARED_POLICY = 1000;
/** Shared policies a page of ListSharedPolicies examines beyond its size, at most (filtered out, or hidden from the caller). */
export const SHARED_POLICIES_SCAN_AHEAD = 1000;
export const MAX_SHARED_DISPLAY_NAME = 200;
export const MAX_SHARED_DESCRIPTION = 1000;
const UPDATABLE = ["display_name", "description", "bindings", "deny_rules"];
/** The policy half of unbinding (AIP-2511). */
const UNBIND_PERMISSION = "sharedPolicies.deleteBinding";
/** Bindings of a shared policy are read as the type of each resource it applies to: validated against all of them. */
const ANY_TARGET = "resource it is bound to";

export interface SharedPolicyPage {
  sharedPolicies: SharedPolicy[];
  nextPageToken: string;
}

export interface SharedPolicyBindingPage {
  bindings: SharedPolicyBinding[];
  nextPageToken: string;
}

export function isSharedPolicyName(name: string): boolean {
  return name.startsWith(`${SHARED_POLICY_COLLECTION}/`);
}

export class SharedPolicies {
  /** A type whose roles are every type's: a binding must name a role grantable on some type. */
  private readonly anyTarget: ResourceType;

  constructor(
    private readonly store: Store,
    private readonly schema: ResourceSchema,
    private readonly pageTokens: PageTokens,
    private readonly authorizer: Authorizer,
  ) {
    const roles = new Map([...schema.types.values()].flatMap((type) => [...type.roles]));
    this.anyTarget = { name: ANY_TARGET, collection: "", parents: [], roles };
  }

  async create({ parent, sharedPolicyId, sharedPolicy }: CreateSharedPolicyRequest, actor: Actor): Promise<SharedPolicy> {
    const type = this.sharedType();
    const name = `${SHARED_POLICY_COLLECTION}/${sharedPolicyId}`;
    const violations = new Violations();
    if (sharedPolicyId === "") violations.add("shared_policy_id", "is required");
    else {
      const problem = typeOfName(this.schema, name);
      if (typeof problem === "string") violations.add("shared_policy_id", problem);
    }
    const parentType = parent === "" ? "is required" : typeOfName(this.schema, parent);
    if (typeof parentType === "string") violations.add("parent", parentType);
    else if (!allowsParent(type, parentType)) violations.add("parent", `a shared policy belongs to ${type.parents.map(withArticle).join(" or ")}`);
    if (!sharedPolicy) violations.add("shared_policy", "is required");
    violations.throwIfAny();
    const content = await this.canonical(sharedPolicy!, parent, UPDATABLE, "shared_policy");
    const decide = ({ stored }: SharedPolicyState) => {
      if (stored) throw new ServiceError("already_exists", `shared policy ${quoted(name)} already exists`);
      return { policy: create(SharedPolicySchema, { ...content, name, parent }), type: type.name };
    };
    return (await this.fromStore(updateSharedPolicy(this.store, name, decide, actor), name, parent))!;
  }

  async get({ name }: GetSharedPolicyRequest): Promise<SharedPolicy> {
    this.requireName("name", name);
    const stored = await getSharedPolicy(this.store, name);
    if (!stored) throw sharedNotFound(name);
    return stored;
  }

  /**
   * A bound shared policy's bindings and deny rules are part of the access of every resource it is bound to: a write
   * that changes them needs the caller to hold, on each of those resources, what setting its own policy
   * (`{collection}.setPolicy`) or deny policy (`{collection}.setDenyPolicy`) would need there.
   */
  async update({ sharedPolicy, updateMask }: UpdateSharedPolicyRequest, actor: Caller): Promise<SharedPolicy> {
    if (!sharedPolicy) throw invalidArgument([{ field: "shared_policy", description: "is required" }]);
    const name = sharedPolicy.name;
    this.requireName("shared_policy.name", name);
    const paths = maskPaths(updateMask);
    const current = await getSharedPolicy(this.store, name);
    if (!current) throw sharedNotFound(name);
    const content = await this.canonical(sharedPolicy, current.parent, paths, "shared_policy");
    const checked = this.authorizer.isUnrestricted(actor) ? undefined : accessEdits(paths, content, current);
    const newestChecked = checked ? await this.requireOnTargets(actor, name, checked) : 0;
    const decide = ({ stored, newestBinding }: SharedPolicyState) => {
      if (!stored) throw sharedNotFound(name);
      if (sharedPolicy.etag.length > 0 && !sameEtag(sharedPolicy.etag, stored.etag)) throw staleEtag("shared policy");
      if (checked) {
        // The targets or the content changed since the caller's rights were checked: check again.
        const edits = accessEdits(paths, content, stored);
        const unchecked = (edits.bindings && !checked.bindings) || (edits.denyRules && !checked.denyRules);
        if (unchecked || ((checked.bindings || checked.denyRules) && newestBinding > newestChecked)) {
          throw new ServiceError("aborted", `shared policy ${quoted(name)} was changed or bound meanwhile; retry the update`);
        }
      }
      const next = create(SharedPolicySchema, stored);
      if (paths.includes("display_name")) next.displayName = content.displayName;
      if (paths.includes("description")) next.description = content.description;
      if (paths.includes("bindings")) next.bindings = content.bindings;
      if (paths.includes("deny_rules")) next.denyRules = content.denyRules;
      return { policy: next, type: this.sharedType().name };
    };
    return (await this.fromStore(updateSharedPolicy(this.store, name, decide, actor), name))!;
  }

  /** Deletes the shared policy (with `force`, its bindings too); returns how many bindings went and the sequence. */
  async delete({ name, etag, force }: DeleteSharedPolicyRequest, actor: Actor): Promise<{ deletedBindings: number; sequence: bigint }> {
    this.requireName("name", name);
    let deletedBindings = 0;
    const decide = ({ stored, bindingCount }: SharedPolicyState) => {
      if (!stored) throw sharedNotFound(name);
      if (etag.length > 0 && !sameEtag(etag, stored.etag)) throw staleEtag("shared policy");
      if (bindingCount > 0 && !force) {
        throw new ServiceError(
          "failed_precondition",
          `shared policy ${quoted(name)} is bound to ${bindingCount} resource(s); unbind them first or set force to delete the bindings with it`,
        );
      }
      deletedBindings = bindingCount;
      return { delete: true as const, unbind: force };
    };
    await this.fromStore(updateSharedPolicy(this.store, name, decide, actor), name);
    return { deletedBindings, sequence: BigInt(this.store.writtenSequence) };
  }

  /**
   * The shared policies of `parent` that match `filter` and that `caller` may read (`sharedPolicies.get`, as
   * GetSharedPolicy needs: a listing shows none that GetSharedPolicy would call absent). A page reads on past the
   * others, examining at most its size and SHARED_POLICIES_SCAN_AHEAD more; a page that stopped there may be short
   * (even empty) and still have a token.
   */
  async list({ parent, pageSize: requested, pageToken, filter }: ListSharedPoliciesRequest, caller: Caller): Promise<SharedPolicyPage> {
    const parentType = parent === "" ? "is required" : typeOfName(this.schema, parent);
    if (typeof parentType === "string") throw invalidArgument([{ field: "parent", description: parentType }]);
    const text = filter.toLowerCase();
    const limit = pageSize(requested);
    const key = JSON.stringify(["ListSharedPolicies", parent, text]);
    let after = this.pageTokens.decode(pageToken, key);
    if (!(await this.store.getResource(parent))) throw notFound(parent);
    const listed: SharedPolicy[] = [];
    let budget = limit + SHARED_POLICIES_SCAN_AHEAD;
    for (;;) {
      // One more than the page holds: whether another page follows.
      const want = Math.min(limit + 1 - listed.length, budget);
      const rows = await listSharedPolicies(this.store, { parent, afterName: after, limit: want });
      budget -= rows.length;
      const matching = rows.filter((p) => text === "" || [p.name, p.displayName, p.description].some((s) => s.toLowerCase().includes(text)));
      const readable = await inTurns(matching, (p) => this.authorizer.sees(caller, p.name));
      listed.push(...matching.filter((_, i) => readable[i]));
      if (listed.length > limit) {
        return { sharedPolicies: listed.slice(0, limit), nextPageToken: this.pageTokens.encode(key, listed[limit - 1]!.name) };
      }
      if (rows.length < want) return { sharedPolicies: listed, nextPageToken: "" };
      after = rows.at(-1)!.name;
      if (budget === 0) return { sharedPolicies: listed, nextPageToken: this.pageTokens.encode(key, after) };
    }
  }

  async createBinding({ binding }: CreateSharedPolicyBindingRequest, actor: Caller): Promise<SharedPolicyBinding> {
    if (!binding) throw invalidArgument([{ field: "binding", description: "is required" }]);
    const { sharedPolicy, target } = binding;
    this.requireBindingNames(sharedPolicy, target, "binding.");
    const decide = ({ stored, sharedPolicy: policy, targetLineage, boundToTarget, policyBindings }: SharedPolicyBindingState) => {
      if (stored) throw new ServiceError("already_exists", `${quoted(sharedPolicy)} is already bound to ${quoted(target)}`);
      if (!targetLineage.includes(policy.parent)) {
        throw new ServiceError(
          "failed_precondition",
          `${quoted(target)} is not in ${quoted(policy.parent)}; a shared policy binds only to resources of its organization`,
        );
      }
      if (boundToTarget >= MAX_SHARED_POLICIES_PER_RESOURCE) {
        throw new ServiceError(
          "failed_precondition",
          `${quoted(target)} already has ${boundToTarget} shared policies bound; at most ${MAX_SHARED_POLICIES_PER_RESOURCE} per resource`,
        );
      }
      if (policyBindings >= MAX_TARGETS_PER_SHARED_POLICY) {
        throw new ServiceError(
          "failed_precondition",
          `${quoted(sharedPolicy)} is already bound to ${policyBindings} resources; at most ${MAX_TARGETS_PER_SHARED_POLICY} per shared policy`,
        );
      }
      return true;
    };
    return (await this.fromStore(updateBinding(this.store, sharedPolicy, target, decide, actor), sharedPolicy))!;
  }

  async getBinding({ sharedPolicy, target }: GetSharedPolicyBindingRequest): Promise<SharedPolicyBinding> {
    this.requireBindingNames(sharedPolicy, target, "");
    const [found] = await listBindings(this.store, { sharedPolicy, target, limit: 1 });
    if (!found) throw notBound(sharedPolicy, target);
    return found;
  }

  /**
   * Unbinds; returns the sequence of the delete. Either half of the binding suffices (the auth rule checks it), except
   * for a shared policy with deny rules: a guardrail is unbound from its own side only (`sharedPolicies.deleteBinding`),
   * never by the target's owners it may guard.
   */
  async deleteBinding({ sharedPolicy, target }: DeleteSharedPolicyBindingRequest, actor: Caller): Promise<{ sequence: bigint }> {
    this.requireBindingNames(sharedPolicy, target, "");
    const [policyHalf] = await this.authorizer.holdsOn(actor, sharedPolicy, [UNBIND_PERMISSION]);
    const decide = ({ stored, sharedPolicy: policy }: SharedPolicyBindingState) => {
      if (!stored) throw notBound(sharedPolicy, target);
      if (!policyHalf && policy.denyRules.length > 0) {
        throw new ServiceError(
          "permission_denied",
          `${actor.principal} lacks permission "${UNBIND_PERMISSION}" on ${quoted(sharedPolicy)}, which has deny rules: a shared ` +
            "policy with deny rules is unbound only by those who hold that permission on it, so that a guardrail cannot be " +
            "removed by those it guards; ask an owner of the shared policy",
        );
      }
      return false;
    };
    await this.fromStore(updateBinding(this.store, sharedPolicy, target, decide, actor), sharedPolicy);
    return { sequence: BigInt(this.store.writtenSequence) };
  }

  /**
   * A shared policy's targets (only those `caller` can see, `{collection}.get`: a listing must not tell of a resource
   * the caller may not see), or a target's shared policies (by name: the target's owners may unbind them).
   */
  async listBindings(
    { sharedPolicy, target, pageSize, pageToken }: ListSharedPolicyBindingsRequest,
    caller: Caller,
  ): Promise<SharedPolicyBindingPage> {
    if ((sharedPolicy === "") === (target === "")) {
      throw invalidArgument([{ field: "shared_policy", description: "set exactly one of shared_policy and target" }]);
    }
    if (sharedPolicy !== "") this.requireName("shared_policy", sharedPolicy);
    else requireResourceName(this.schema, "target", target);
    const page = await this.pageTokens.page(
      { pageSize, pageToken },
      JSON.stringify(["ListSharedPolicyBindings", sharedPolicy, target]),
      async (afterName, limit) => {
        if (sharedPolicy !== "" && !(await getSharedPolicy(this.store, sharedPolicy))) throw sharedNotFound(sharedPolicy);
        if (target !== "" && !(await this.store.getResource(target))) throw notFound(target);
        return target !== ""
          ? listBindings(this.store, { target, afterName, limit })
          : this.visibleTargets(caller, sharedPolicy, afterName, limit);
      },
      (binding) => (sharedPolicy !== "" ? binding.target : binding.sharedPolicy),
    );
    return { bindings: page.items, nextPageToken: page.nextPageToken };
  }

  /** The first `limit` bindings of `sharedPolicy` after `afterName` whose targets `caller` can see. */
  private async visibleTargets(
    caller: Caller,
    sharedPolicy: string,
    afterName: string | undefined,
    limit: number,
  ): Promise<SharedPolicyBinding[]> {
    if (this.authorizer.isUnrestricted(caller)) return listBindings(this.store, { sharedPolicy, afterName, limit });
    const shown: SharedPolicyBinding[] = [];
    // Read on past hidden targets until the page is full: at most every target (MAX_TARGETS_PER_SHARED_POLICY).
    for (let after = afterName; shown.length < limit; ) {
      const rows = await listBindings(this.store, { sharedPolicy, afterName: after, limit });
      const seen = await inTurns(rows, (binding) => this.authorizer.sees(caller, binding.target));
      shown.push(...rows.filter((_, i) => seen[i]));
      if (rows.length < limit) break;
      after = rows.at(-1)!.target;
    }
    return shown.slice(0, limit);
  }

  /**
   * Throws PERMISSION_DENIED unless `caller` holds, on every resource `sharedPolicy` is bound to, the permission to
   * set the policy (`edits.bindings`) and the deny policy (`edits.denyRules`) there. Returns the sequence of the
   * newest binding checked. A target the caller cannot see is not named.
   */
  private async requireOnTargets(caller: Caller, sharedPolicy: string, edits: AccessEdits): Promise<number> {
    const verbs = [...(edits.bindings ? ["setPolicy"] : []), ...(edits.denyRules ? ["setDenyPolicy"] : [])];
    let newest = 0;
    if (verbs.length === 0) return newest;
    for (let after: string | undefined; ; ) {
      const page = await listBindings(this.store, { sharedPolicy, afterName: after, limit: MAX_PAGE_SIZE });
      // Each target's permissions for the edit, then whether it can see the target at all.
      const held = await inTurns(page, ({ target }) =>
        this.authorizer.holdsOn(caller, target, [...verbs.map((verb) => permissionOn(target, verb)), `${collectionOf(target)}.get`]),
      );
      page.forEach(({ target, sequence }, i) => {
        newest = Math.max(newest, Number(sequence));
        const missing = verbs.findIndex((_, v) => !held[i]![v]);
        if (missing < 0) return;
        const what = verbs[missing] === "setPolicy" ? "bindings" : "deny rules";
        const where = held[i]!.at(-1)
          ? `permission "${permissionOn(target, verbs[missing]!)}" on ${quoted(target)}, a resource`
          : `the permission to set the ${verbs[missing] === "setPolicy" ? "policy" : "deny policy"} of a resource`;
        throw new ServiceError(
          "permission_denied",
          `${caller.principal} lacks ${where} that shared policy ${quoted(sharedPolicy)} is bound to: its ${what} apply there ` +
            "as if they were that resource's own, so changing them needs what changing that resource's would; ask an owner of it",
        );
      });
      if (page.length < MAX_PAGE_SIZE) return newest;
      after = page.at(-1)!.target;
    }
  }

  /** The schema's shared-policy type; FAILED_PRECONDITION when a custom schema has none. */
  private sharedType(): ResourceType {
    const type = this.schema.typesByCollection.get(SHARED_POLICY_COLLECTION);
    if (!type) {
      throw new ServiceError(
        "failed_precondition",
        `this server's schema has no type with collection "${SHARED_POLICY_COLLECTION}"; add one (see schema/default.yaml) to use shared policies`,
      );
    }
    return type;
  }

  private requireName(field: string, name: string): void {
    requireResourceName(this.schema, field, name);
    if (!isSharedPolicyName(name)) {
      throw invalidArgument([{ field, description: `${quoted(name)} is not a shared policy name (sharedPolicies/{id})` }]);
    }
  }

  private requireBindingNames(sharedPolicy: string, target: string, prefix: string): void {
    this.requireName(`${prefix}shared_policy`, sharedPolicy);
    requireResourceName(this.schema, `${prefix}target`, target);
    if (isSharedPolicyName(target)) {
      throw invalidArgument([{ field: `${prefix}target`, description: "a shared policy cannot be bound to another one" }]);
    }
  }

  /**
   * The canonical content of `policy` for the fields in `paths` (INVALID_ARGUMENT naming `field`): its bindings as a
   * policy's (any type's roles, or the organization's custom roles; conditions need no version), its deny rules as a
   * deny policy's.
   */
  private async canonical(policy: SharedPolicy, parent: string, paths: readonly string[], field: string): Promise<SharedPolicy> {
    const violations = new Violations();
    if (paths.includes("display_name") && policy.displayName.length > MAX_SHARED_DISPLAY_NAME) {
      violations.add(`${field}.display_name`, `longer than ${MAX_SHARED_DISPLAY_NAME} characters`);
    }
    if (paths.includes("description") && policy.description.length > MAX_SHARED_DESCRIPTION) {
      violations.add(`${field}.description`, `longer than ${MAX_SHARED_DESCRIPTION} characters`);
    }
    const customRoles = new Map(
      ((await listRoles(this.store, parent)) ?? []).map((role) => {
        const grantable = typesGranting(this.schema, role.includedPermissions).length > 0;
        return [role.name, grantable ? [ANY_TARGET] : []] as const;
      }),
    );
    // Its bindings' and deny rules' conditions are one write's.
    await compileInTurns([
      ...(paths.includes("bindings") ? policy.bindings.map((b) => b.condition?.expression) : []),
      ...(paths.includes("deny_rules") ? policy.denyRules.map((r) => r.denialCondition?.expression) : []),
    ]);
    const conditionBudget = writeConditionBudget();
    const bindings = paths.includes("bindings")
      ? canonicalBindings(policy.bindings, this.anyTarget, 3, violations, `${field}.bindings`, customRoles, conditionBudget)
      : [];
    const denyRules = paths.includes("deny_rules")
      ? canonicalDenyRules(policy.denyRules, this.schema, violations, `${field}.deny_rules`, conditionBudget)
      : [];
    violations.throwIfAny();
    return create(SharedPolicySchema, { displayName: policy.displayName, description: policy.description, bindings, denyRules });
  }

  /** Store errors in the request's words: a missing shared policy is named as one. */
  private async fromStore<T>(work: Promise<T>, sharedPolicy: string, parent?: string): Promise<T> {
    try {
      return await work;
    } catch (e) {
      if (!(e instanceof StoreError)) throw e;
      if (e.kind === "not_found" && e.subject === sharedPolicy) throw sharedNotFound(sharedPolicy);
      if (e.kind === "already_exists") throw new ServiceError("already_exists", `resource ${quoted(e.subject)} already exists`);
      throw serviceErrorOf(e, parent);
    }
  }
}

/** Which of a shared policy's access-bearing fields an update changes. */
interface AccessEdits {
  bindings: boolean;
  denyRules: boolean;
}

/** What writing `content`'s fields named by `paths` over `stored` changes of what it grants and denies. */
function accessEdits(paths: readonly string[], content: SharedPolicy, stored: SharedPolicy): AccessEdits {
  // Both are canonical (sorted, merged), so the same access is the same message.
  const differ = (field: "bindings" | "denyRules") =>
    !equals(SharedPolicySchema, create(SharedPolicySchema, { [field]: content[field] }), create(SharedPolicySchema, { [field]: stored[field] }));
  return {
    bindings: paths.includes("bindings") && differ("bindings"),
    denyRules: paths.includes("deny_rules") && differ("denyRules"),
  };
}

function maskPaths(mask: FieldMask | undefined): string[] {
  const paths = mask?.paths ?? [];
  if (paths.length === 0 || paths.includes("*")) return UPDATABLE;
  const violations = new Violations();
  paths.forEach((path, i) => {
    if (!UPDATABLE.includes(path)) violations.add(`update_mask.paths[${i}]`, `${quoted(path)} cannot be updated; updatable: ${UPDATABLE.join(", ")}`);
  });
  violations.throwIfAny();
  return paths;
}

function sharedNotFound(name: string): ServiceError {
  return new ServiceError("not_found", `shared policy ${quoted(name)} not found; create it with SharedPolicyService.CreateSharedPolicy`);
}

function notBound(sharedPolicy: string, target: string): ServiceError {
  return new ServiceError("not_found", `${quoted(sharedPolicy)} is not bound to ${quoted(target)}`);
}
