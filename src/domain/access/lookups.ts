// Reverse lookups, the facade the handlers call: who can (LookupMembers) and what can (LookupResources).
//
// What can enumerates candidates from the store's member index and checks each one as CheckAccess would. The
// candidates are the subtrees of the grant points (resources whose policy, or a shared policy bound to them, binds
// one of the subject's members to a role granting the permission, predefined or custom), walked in hierarchy order:
// grant points come in cursor order, a grant point inside a subtree already walked is skipped, and each subtree is a
// keyset range of one type. A page therefore reads what
// it returns (and the grant points it passes), never the rest of the hierarchy; the page token holds the position.
import { create, toJsonString } from "@bufbuild/protobuf";
import { ValueSchema, timestampNow, type Value } from "@bufbuild/protobuf/wkt";
import {
  AccessState,
  LookupMembersResponseSchema,
  LookupResourcesResponseSchema,
  ResourceAccessSchema,
  type LookupMembersRequest,
  type LookupMembersResponse,
  type LookupResourcesRequest,
  type LookupResourcesResponse,
  type ResourceAccess,
} from "../../../gen/policy/v1/access_service_pb.js";
import { Violations, notFound } from "../../service-error.js";
import type { GrantPoint, Store, StoredPolicy } from "../../store/store.js";
import { grantingRole, parseCustomRoleName } from "../custom-roles.js";
import { ConditionBudget, LOOKUP_BUDGET } from "../conditions.js";
import { requireResourceName, typeOfName } from "../names.js";
import { pageSize, type PageTokens } from "../page-token.js";
import type { ResourceSchema } from "../../schema/schema.js";
import { plainValue, validatePermission } from "./access.js";
import type { ChainDisclosure } from "./disclosure.js";
import { checkChain } from "./chain-check.js";
import type { ResolvedResource } from "./resolved.js";
import { Subject } from "./subject.js";
import { compareKeys, grantKey, grantsOn, memberGrants, type ConditionEvaluation } from "./who-can.js";

type LookupStore = Pick<Store, "ancestry" | "latestSequence" | "listGrantPoints" | "listSubtree">;

/** Whether the caller may see the resource `chain` is of in a lookup's answer. */
export type Visibility = (chain: readonly StoredPolicy[]) => boolean;

/** Grant points read ahead at a time: most subjects have few, and one that has many reads them page by page. */
const GRANT_BATCH = 64;

/**
 * Where a what-can listing stands, as its page token carries it: inside the subtree of `root` after the cursor
 * `after`; then at the grant points from the cursor `next` on (undefined: from the start; null: none are left,
 * because `root` is the lookup's ancestor, covered from above).
 */
interface Position {
  root?: string;
  after?: string;
  next?: string | null;
}

export class Lookups {
  private readonly rolesByPermission = new Map<string, string[]>();
  private readonly reachByTypes = new Map<string, "none" | "self" | "any">();

  constructor(
    private readonly store: LookupStore,
    private readonly schema: ResourceSchema,
    private readonly pageTokens: PageTokens,
  ) {}

  /** Who can: `resource` is `request.resource`, resolved; `disclosure` says what of its chain the caller may read. */
  async members(request: LookupMembersRequest, resource: ResolvedResource, disclosure?: ChainDisclosure): Promise<LookupMembersResponse> {
    requireResourceName(this.schema, "resource", request.resource, resource.type);
    const violations = new Violations();
    validatePermission(this.schema, request.permission, violations, "permission");
    violations.throwIfAny();
    const evaluation = evaluationOf(request);
    const filter = JSON.stringify(["LookupMembers", request.resource, request.permission, evaluation.evaluate, attributesKey(request.attributes)]);
    const { sequence, chain } = await resource.readChain();
    if (!chain) throw notFound(request.resource);
    const { grants, partial } = await memberGrants(this.schema, chain, request.permission, evaluation, disclosure);
    const page = await this.pageTokens.page(
      request,
      filter,
      async (after, limit) => {
        const key = after === undefined ? undefined : (JSON.parse(after) as string[]);
        const start = key === undefined ? 0 : grants.findIndex((g) => compareKeys(grantKey(g), key) > 0);
        return start < 0 ? [] : grants.slice(start, start + limit);
      },
      (grant) => JSON.stringify(grantKey(grant)),
    );
    return create(LookupMembersResponseSchema, {
      grants: page.items,
      nextPageToken: page.nextPageToken,
      partial,
      sequence: BigInt(sequence),
    });
  }

  /** What can: `visible` says which resources the caller may see in the answer (undefined: all). */
  async resources(request: LookupResourcesRequest, visible?: Visibility): Promise<LookupResourcesResponse> {
    const violations = new Violations();
    const subject = Subject.of(request.principals, violations, "principals");
    validatePermission(this.schema, request.permission, violations, "permission");
    const known = [...this.schema.types.keys()].join(", ");
    if (request.resourceType === "") violations.add("resource_type", `is required; one of ${known}`);
    else if (!this.schema.types.has(request.resourceType)) violations.add("resource_type", `unknown type "${request.resourceType}"; one of ${known}`);
    if (request.ancestor !== "") {
      const type = typeOfName(this.schema, request.ancestor);
      if (typeof type === "string") violations.add("ancestor", type);
    }
    violations.throwIfAny();
    const limit = pageSize(request.pageSize);
    const evaluation = evaluationOf(request);
    const filter = JSON.stringify([
      "LookupResources",
      [...subject.members].sort(),
      request.permission,
      request.resourceType,
      request.ancestor,
      evaluation.evaluate,
      attributesKey(request.attributes),
    ]);
    const token = this.pageTokens.decode(request.pageToken, filter);
    // Before anything is read: the answer reflects at least every write up to it.
    const sequence = await this.store.latestSequence();
    const ancestor = request.ancestor || undefined;
    let position: Position | undefined =
      token === undefined ? await this.start(ancestor, subject, request.permission) : (JSON.parse(token) as Position);
    const roles = [...this.rolesGranting(request.permission), ...(await this.customRolesGranting(subject, request.permission))];
    const found: ResourceAccess[] = [];
    const ahead: GrantPoint[] = [];
    // Candidates examined and ranges probed: a page whose candidates are mostly refused (false conditions, hidden
    // resources) stops here and says where to go on, instead of reading without bound.
    let budget = 2 * limit + 100;
    while (position && found.length < limit && budget > 0) {
      if (position.root !== undefined) {
        const want = Math.min(limit - found.length, budget);
        budget--;
        const rows = await this.store.listSubtree({
          type: request.resourceType,
          root: position.root,
          ...(position.after === undefined ? {} : { afterCursor: position.after }),
          limit: want,
        });
        for (const row of rows) {
          budget--;
          position.after = row.cursor;
          const access = await this.accessOn(row.resource.name, subject, request.permission, evaluation, visible);
          if (access) found.push(access);
        }
        if (rows.length < want) position = position.next === null ? undefined : { next: position.next };
        continue;
      }
      const from = position.next ?? undefined;
      // Grant points read ahead that lie inside the subtree just walked were covered by it.
      while (from !== undefined && ahead.length > 0 && ahead[0]!.cursor < from) ahead.shift();
      if (ahead.length === 0) {
        budget--;
        ahead.push(
          ...(await this.store.listGrantPoints({
            members: subject.members,
            roles,
            ...(ancestor === undefined ? {} : { beneath: ancestor }),
            ...(from === undefined ? {} : { fromCursor: from }),
            limit: GRANT_BATCH,
          })),
        );
      }
      const point = ahead.shift();
      if (!point) {
        position = undefined;
        break;
      }
      position = { root: point.name, next: point.subtreeEnd };
      const pointType = typeOfName(this.schema, point.name);
      // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: answer-equivalent: a shortcut around reads; every candidate is still checked as CheckAccess checks it (docs/testing.md, lookups.ts)
      const reach = typeof pointType === "string" ? "any" : this.reach(pointType.name, request.resourceType);
      // Stryker disable next-line StringLiteral,BlockStatement: answer-equivalent: a shortcut around reads; every candidate is still checked as CheckAccess checks it (docs/testing.md, lookups.ts)
      if (reach === "none") {
        // A grant on a type that cannot have resources of the asked type beneath it (e.g. on a project, asking
        // for clouds): nothing to read.
        budget--;
        position = { next: point.subtreeEnd };
      // Stryker disable next-line StringLiteral,BlockStatement: answer-equivalent: a shortcut around reads; every candidate is still checked as CheckAccess checks it (docs/testing.md, lookups.ts)
      } else if (reach === "self") {
        // Of the asked type, and no resource of that type can be beneath it: the grant point is its whole range.
        budget--;
        const access = await this.accessOn(point.name, subject, request.permission, evaluation, visible);
        if (access) found.push(access);
        position = { next: point.subtreeEnd };
      }
    }
    return create(LookupResourcesResponseSchema, {
      resources: found,
      nextPageToken: position ? this.pageTokens.encode(filter, JSON.stringify(position)) : "",
      sequence: BigInt(sequence),
    });
  }

  /**
   * The first position of a listing: the whole subtree of `ancestor` when a binding on it or above it grants the
   * permission to the subject (the member index only holds grant points beneath it), else its grant points.
   */
  private async start(ancestor: string | undefined, subject: Subject, permission: string): Promise<Position> {
    if (ancestor === undefined) return {};
    const chain = await this.store.ancestry(ancestor);
    if (!chain) throw notFound(ancestor);
    // A link's own bindings and those of the shared policies bound to it, read on the link's type as checks read them.
    const customRoles = chain.at(-1)?.roles ?? [];
    const covered = chain.some(({ resource, policy, shared }) => {
      const type = this.schema.types.get(resource.type);
      return [policy, ...(shared ?? [])].some(({ bindings }) =>
        bindings.some((b) => grantsOn(this.schema, customRoles, type, b.role, permission) && subject.matchIn(b.members) !== undefined),
      );
    });
    return covered ? { root: ancestor, next: null } : {};
  }

  /** How the subject holds `permission` on `name`, decided as CheckAccess decides it; undefined: not at all. */
  private async accessOn(
    name: string,
    subject: Subject,
    permission: string,
    evaluation: ConditionEvaluation,
    visible: Visibility | undefined,
  ): Promise<ResourceAccess | undefined> {
    const chain = await this.store.ancestry(name);
    if (!chain || (visible && !visible(chain))) return undefined;
    const result = checkChain(this.schema, chain, { subject, permissions: [permission], ...evaluation, explain: true })?.[0];
    // A deny rule takes the resource out; a conditional one leaves it only conditionally held.
    if (!result || result.state === AccessState.DENIED) return undefined;
    const deniedIf = result.denyExplanations.some((d) => d.state === AccessState.UNKNOWN_CONDITIONAL);
    const matched = result.explanations.filter((e) => e.matchedMember !== "");
    let state: AccessState;
    if (matched.some((e) => e.condition === undefined)) state = AccessState.GRANTED;
    else if (matched.length === 0) return undefined;
    else if (!evaluation.evaluate) state = AccessState.UNKNOWN_CONDITIONAL;
    else if (result.state === AccessState.NOT_GRANTED) return undefined;
    else state = result.state;
    if (deniedIf) state = AccessState.UNKNOWN_CONDITIONAL;
    const conditional = deniedIf || !matched.some((e) => e.condition === undefined);
    return create(ResourceAccessSchema, { resource: name, state, conditional });
  }

  /**
   * Which resources of type `wanted` the subtree of a resource of type `type` can hold, by the schema's parent
   * rules: none, only the resource itself, or any number.
   */
  private reach(type: string, wanted: string): "none" | "self" | "any" {
    const key = `${type} ${wanted}`;
    let reach = this.reachByTypes.get(key);
    // Stryker disable next-line BooleanLiteral,ConditionalExpression,BlockStatement: the memo of reach(); without it, computed again, the same
    if (!reach) {
      const below = new Set<string>();
      const visit = (parent: string) => {
        for (const child of this.schema.types.values()) {
          // Stryker disable next-line LogicalOperator: answer-equivalent: a shortcut around reads; every candidate is still checked as CheckAccess checks it (docs/testing.md, lookups.ts)
          if (child.parents.includes(parent) && !below.has(child.name)) {
            below.add(child.name);
            visit(child.name);
          }
        }
      };
      visit(type);
      // Stryker disable next-line StringLiteral: answer-equivalent: a shortcut around reads; every candidate is still checked as CheckAccess checks it (docs/testing.md, lookups.ts)
      reach = below.has(wanted) ? "any" : type === wanted ? "self" : "none";
      this.reachByTypes.set(key, reach);
    }
    return reach;
  }

  /**
   * The custom roles bound to one of the subject's members that grant `permission` (while active): each is defined
   * in its organization's chain link, read from the read cache.
   */
  private async customRolesGranting(subject: Subject, permission: string): Promise<string[]> {
    const granting: string[] = [];
    for (const name of await this.store.listGrantPoints({ members: [...subject.members], boundRoles: true })) {
      const parent = parseCustomRoleName(name)?.parent;
      const root = parent === undefined ? undefined : (await this.store.ancestry(parent))?.at(-1);
      const role = root?.roles?.find((r) => r.name === name);
      if (role && grantingRole(this.schema, role)?.permissions.has(permission)) granting.push(name);
    }
    return granting;
  }

  /** The names of the predefined roles that grant `permission` on some type (the member index is by role name). */
  private rolesGranting(permission: string): string[] {
    let roles = this.rolesByPermission.get(permission);
    if (!roles) {
      const names = new Set<string>();
      for (const type of this.schema.types.values()) {
        for (const role of type.roles.values()) if (role.permissions.has(permission)) names.add(role.name);
      }
      // Stryker disable next-line MethodExpression: the member index's query takes the roles as a set; sorted for a stable memo only
      roles = [...names].sort();
      this.rolesByPermission.set(permission, roles);
    }
    return roles;
  }
}

/** Conditions are evaluated when asked to, or when attributes are given. */
function evaluationOf(request: { attributes: { [key: string]: Value }; evaluateConditions: boolean }): ConditionEvaluation {
  const entries = Object.entries(request.attributes);
  return {
    evaluate: request.evaluateConditions || entries.length > 0,
    attributes: new Map(entries.map(([k, v]) => [k, plainValue(v)])),
    requestTime: timestampNow(),
    budget: new ConditionBudget(LOOKUP_BUDGET),
  };
}

/** The attributes as part of a page token's filter: the same values give the same key, in any order. */
function attributesKey(attributes: { [key: string]: Value }): string[] {
  return Object.keys(attributes)
    .sort()
    .map((k) => `${k}=${toJsonString(ValueSchema, attributes[k]!)}`);
}
