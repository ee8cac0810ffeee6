// Cedar (cedar-wasm) on the same model: one `permit` per binding, on the resource it is attached to, for the role's
// permissions (as actions) and its members:
//
//   permit (principal, action in [Action::"logs.read", ...], resource in Folder::"folders/acme-eng")
//   when { principal in [User::"alice@example.com", Group::"eng"] };
//
// Resources are entities with `parents` (the hierarchy), the user an entity whose parents are its groups; both go
// with each request, as a Cedar caller supplies the entities a request needs. The policy set is parsed once into
// cedar-wasm's cache (preparsePolicySet) and decisions use statefulIsAuthorized — isAuthorized without re-parsing the
// policies on every call (which would be far slower and unfair to Cedar); the answers are the same (checked).
import {
  isAuthorized,
  preparsePolicySet,
  statefulIsAuthorized,
  type AuthorizationAnswer,
  type EntityJson,
  type StatefulAuthorizationCall,
} from "@cedar-policy/cedar-wasm/nodejs";
import { walkModel, type BindingSpec, type Query } from "./dataset.js";
import type { Engine } from "./engine.js";
import type { ResourceSchema } from "../../src/schema/schema.js";

const entityType = (schemaType: string) => schemaType[0]!.toUpperCase() + schemaType.slice(1);

function memberUid(member: string): string {
  if (member.startsWith("user:")) return `User::"${member.slice(5)}"`;
  if (member.startsWith("group:")) return `Group::"${member.slice(6)}"`;
  throw new Error(`no Cedar form for member ${member}`);
}

function policyText(resource: string, type: string, binding: BindingSpec, schema: ResourceSchema): string {
  const permissions = [...schema.types.get(type)!.roles.get(binding.role)!.permissions];
  const actions = permissions.map((p) => `Action::"${p}"`).join(", ");
  const members = binding.members.map(memberUid).join(", ");
  return `permit (principal, action in [${actions}], resource in ${entityType(type)}::"${resource}") when { principal in [${members}] };\n`;
}

function check(answer: AuthorizationAnswer): boolean {
  if (answer.type !== "success") throw new Error(`cedar: ${answer.errors.map((e) => e.message).join("; ")}`);
  if (answer.response.diagnostics.errors.length > 0) {
    throw new Error(`cedar: ${answer.response.diagnostics.errors.map((e) => e.error.message).join("; ")}`);
  }
  return answer.response.decision === "allow";
}

function entitiesOf(query: Query): EntityJson[] {
  const user: EntityJson = {
    uid: { type: "User", id: query.principal.user.slice(5) },
    attrs: {},
    parents: query.principal.groups.map((g) => ({ type: "Group", id: g.slice(6) })),
  };
  const resources = query.chain.map(
    (r, i): EntityJson => ({
      uid: { type: entityType(r.type), id: r.name },
      attrs: {},
      parents: i + 1 < query.chain.length ? [{ type: entityType(query.chain[i + 1]!.type), id: query.chain[i + 1]!.name }] : [],
    }),
  );
  return [user, ...resources];
}

function callOf(query: Query, policySetId: string): StatefulAuthorizationCall {
  return {
    principal: { type: "User", id: query.principal.user.slice(5) },
    action: { type: "Action", id: query.permission },
    resource: { type: entityType(query.chain[0]!.type), id: query.chain[0]!.name },
    context: {},
    preparsedPolicySetId: policySetId,
    entities: entitiesOf(query),
  };
}

function engineOver(policySetId: string, label: string): Engine {
  return {
    label,
    prepare: (query: Query) => callOf(query, policySetId),
    decide: (prepared) => check(statefulIsAuthorized(prepared as StatefulAuthorizationCall)),
  };
}

/**
 * `full`: every stored binding in one policy set (what Cedar evaluates: it has no index over policies).
 * `slice`: only the policies attached to `sliceChain`'s resources, i.e. what an application that indexes policies by
 * resource itself would hand Cedar for a request on that resource: a reference for Cedar's per-decision cost.
 */
export function buildCedar(
  stored: number,
  schema: ResourceSchema,
  sliceChain: readonly { name: string }[],
): { full: Engine; slice: Engine; policyCount: number; policiesText: () => string } {
  const onPath = new Set(sliceChain.map((c) => c.name));
  // Policies by id: cedar-wasm parses this form in linear time (one concatenated text is superlinear).
  let policies: Record<string, string> | undefined = {};
  const slice: Record<string, string> = {};
  let policyCount = 0;
  walkModel(stored, {
    resource(name, _parent, type, bindings) {
      for (const b of bindings) {
        const id = `b${policyCount++}`;
        const text = policyText(name, type, b, schema);
        policies![id] = text;
        if (onPath.has(name)) slice[id] = text;
      }
    },
    membership() {},
  });
  const parsed = preparsePolicySet("full", { staticPolicies: policies });
  if (parsed.type !== "success") throw new Error(`cedar: ${parsed.errors.map((e) => e.message).join("; ")}`);
  const sliced = preparsePolicySet("slice", { staticPolicies: slice });
  if (sliced.type !== "success") throw new Error(`cedar: ${sliced.errors.map((e) => e.message).join("; ")}`);
  const keep = stored <= 10_000 ? Object.values(policies).join("") : undefined;
  policies = undefined;
  return {
    full: engineOver("full", "cedar: statefulIsAuthorized"),
    slice: engineOver("slice", "cedar, path slice only (reference)"),
    policyCount,
    // The policy text, kept at small sizes only, for checking that plain isAuthorized answers the same.
    policiesText: () => {
      if (keep === undefined) throw new Error("policy text not kept at this size");
      return keep;
    },
  };
}

/** Plain isAuthorized (policies parsed on every call): only to check it agrees with the stateful form. */
export function cedarStateless(policies: string): (query: Query) => boolean {
  return (query) => {
    const { preparsedPolicySetId: _, ...call } = callOf(query, "");
    return check(isAuthorized({ ...call, policies: { staticPolicies: policies } }));
  };
}
