// CheckAccess with allow and deny policies against a naive model: for random hierarchies, random bindings and random
// deny rules (principals and exception principals, permissions with `collection.*` and `*` and exceptions,
// conditions that are true, false or cannot be evaluated), every answer is the model's: a deny anywhere on the chain
// wins over any allow anywhere on it, exceptions carve out, and an unknown deny never yields a grant. Shared policies
// (bindings and deny rules) bound at random places apply as if they were the policies of the resources they are bound
// to; after random changes to them and to their bindings, the cached checks follow at once, and the effective policy
// names every shared binding and rule with its shared policy and the resource it is bound to.
import { create, fromJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { AccessState, CheckAccessRequestSchema } from "../../gen/policy/v1/access_service_pb.js";
import { DenyPolicySchema, DenyRuleSchema } from "../../gen/policy/v1/deny_policy_pb.js";
import { BindingSchema, PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { SharedPolicySchema } from "../../gen/policy/v1/shared_policy_pb.js";
import { effectivePolicy } from "../../src/domain/effective-policy.js";
import { Access } from "../../src/domain/access/access.js";
import { parseSchema } from "../../src/schema/schema-loader.js";
import { cachingStore } from "../../src/store/caching-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { updateBinding, updateDenyPolicy, updateSharedPolicy } from "../../src/domain/kinds.js";
import { createResource } from "../../src/store/store.js";

const schema = parseSchema(readFileSync(new URL("../../schema/default.yaml", import.meta.url), "utf8"), "default.yaml");
const actor = { principal: "user:test@example.com" };

const MEMBERS = ["user:ada@example.com", "user:bob@other.com", "group:eng", "domain:example.com", "allUsers", "allAuthenticatedUsers"];
const SUBJECTS: string[][] = [["user:ada@example.com"], ["user:bob@other.com"], ["user:ada@example.com", "group:eng"], ["group:eng"], []];
const PERMISSIONS = ["projects.get", "projects.update", "projects.delete", "clouds.get", "organizations.get", "projects.setPolicy"];
const PATTERNS = [...PERMISSIONS, "projects.*", "clouds.*", "*"];
/** true with {flag: true}, false with {flag: false}, an evaluation error with no attributes. */
const CONDITION = "request.attributes.flag == true";
const ATTRIBUTES: (boolean | undefined)[] = [true, false, undefined];

type Cond = "none" | "cond";
interface BindingSpec { role: string; members: string[]; cond: Cond }
interface RuleSpec { denied: string[]; exceptions: string[]; permissions: string[]; exceptionPermissions: string[]; cond: Cond }
interface NodeSpec { type: "organization" | "cloud" | "project"; parent: number; bindings: BindingSpec[]; rules: RuleSpec[] }
interface SharedSpec { bindings: BindingSpec[]; rules: RuleSpec[] }

const subset = (items: readonly string[], min = 0) => fc.subarray([...items], { minLength: min, maxLength: 3 });
const condArb = fc.constantFrom<Cond>("none", "none", "cond");
const ruleArb = fc.record({
  denied: subset(MEMBERS, 1),
  exceptions: subset(MEMBERS),
  permissions: subset(PATTERNS, 1),
  exceptionPermissions: subset(PATTERNS),
  cond: condArb,
});
const bindingsArb = (type: NodeSpec["type"]) =>
  fc.array(fc.record({ role: fc.constantFrom(...schema.types.get(type)!.roles.keys()), members: subset(MEMBERS, 1), cond: condArb }), { maxLength: 3 });
/** A shared policy's roles are read on each resource it applies to: any type's role, granting only where it exists. */
const ANY_ROLE = [...new Set([...schema.types.values()].flatMap((t) => [...t.roles.keys()]))];
const sharedArb: fc.Arbitrary<SharedSpec> = fc.record({
  bindings: fc.array(fc.record({ role: fc.constantFrom(...ANY_ROLE), members: subset(MEMBERS, 1), cond: condArb }), { maxLength: 3 }),
  rules: fc.array(ruleArb, { maxLength: 2 }),
});
/** 0-3 shared policies, each bound to some of the first 8 resources (indices into the tree's resources, wrapped). */
const sharedSetArb = fc.array(fc.record({ spec: sharedArb, boundTo: fc.uniqueArray(fc.nat(7), { maxLength: 3 }) }), { maxLength: 3 });
/** After the first checks: a shared policy's content replaced, or one of its bindings removed or added. */
const mutationArb = fc.record({ policy: fc.nat(2), spec: sharedArb, node: fc.nat(7), kind: fc.constantFrom("replace", "toggle") });
const nodeArb = (type: NodeSpec["type"], parents: number) =>
  fc.record({
    type: fc.constant(type),
    parent: parents === 0 ? fc.constant(-1) : fc.nat(parents - 1),
    bindings: bindingsArb(type),
    rules: fc.array(ruleArb, { maxLength: 2 }),
  });
/** One organization, 1-3 clouds, 1-4 projects (each under a cloud). */
const treeArb = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 })).chain(([clouds, projects]) =>
  fc.tuple(
    nodeArb("organization", 0),
    fc.array(nodeArb("cloud", 1), { minLength: clouds, maxLength: clouds }),
    fc.array(nodeArb("project", clouds), { minLength: projects, maxLength: projects }),
  ),
);
const queryArb = fc.record({
  subject: fc.constantFrom(...SUBJECTS),
  permission: fc.constantFrom(...PERMISSIONS),
  flag: fc.constantFrom(...ATTRIBUTES),
});

// ---------------------------------------------------------------------------------------------------------------------
// The model.

function matching(principals: readonly string[]): Set<string> {
  const set = new Set(principals);
  for (const p of principals) if (p.startsWith("user:")) set.add(`domain:${p.slice(p.indexOf("@") + 1)}`);
  if (principals.length > 0) set.add("allAuthenticatedUsers");
  set.add("allUsers");
  return set;
}

const covers = (patterns: readonly string[], permission: string) =>
  patterns.some((p) => p === permission || p === "*" || (p.endsWith(".*") && permission.startsWith(p.slice(0, -1))));

/** "true" | "false" | "unknown" */
const evaluate = (cond: Cond, flag: boolean | undefined) => (cond === "none" ? "true" : flag === undefined ? "unknown" : String(flag));

/** A resource of the chain with the shared policies bound to it. */
interface ModelLink { spec: NodeSpec; shared: SharedSpec[] }

function model(chain: ModelLink[], subject: readonly string[], permission: string, flag: boolean | undefined): AccessState {
  const who = matching(subject);
  let allow = AccessState.NOT_GRANTED;
  let deny = AccessState.NOT_GRANTED;
  for (const link of chain) {
    const node = link.spec;
    // The link's own policies and its shared policies, read alike on its type.
    const bindings = [...node.bindings, ...link.shared.flatMap((s) => s.bindings)];
    const rules = [...node.rules, ...link.shared.flatMap((s) => s.rules)];
    for (const b of bindings) {
      const perms = schema.types.get(node.type)!.roles.get(b.role)?.permissions;
      if (!perms?.has(permission) || !b.members.some((m) => who.has(m))) continue;
      const value = evaluate(b.cond, flag);
      if (value === "true") allow = AccessState.GRANTED;
      else if (value === "unknown" && allow === AccessState.NOT_GRANTED) allow = AccessState.UNKNOWN_CONDITIONAL;
    }
    for (const r of rules) {
      if (!covers(r.permissions, permission) || covers(r.exceptionPermissions, permission)) continue;
      if (!r.denied.some((m) => who.has(m)) || r.exceptions.some((m) => who.has(m))) continue;
      const value = evaluate(r.cond, flag);
      if (value === "true") deny = AccessState.DENIED;
      else if (value === "unknown" && deny === AccessState.NOT_GRANTED) deny = AccessState.UNKNOWN_CONDITIONAL;
    }
  }
  if (deny === AccessState.DENIED) return deny;
  if (allow === AccessState.NOT_GRANTED) return allow;
  return deny === AccessState.UNKNOWN_CONDITIONAL ? deny : allow;
}

// ---------------------------------------------------------------------------------------------------------------------

const bindingsOf = (specs: readonly BindingSpec[]) =>
  specs.map((b) => create(BindingSchema, { role: b.role, members: b.members, condition: b.cond === "cond" ? { expression: CONDITION } : undefined }));
const rulesOf = (specs: readonly RuleSpec[]) =>
  specs.map((r) =>
    create(DenyRuleSchema, {
      deniedPrincipals: r.denied,
      exceptionPrincipals: r.exceptions,
      deniedPermissions: r.permissions,
      exceptionPermissions: r.exceptionPermissions,
      denialCondition: r.cond === "cond" ? { expression: CONDITION } : undefined,
    }),
  );

test("CheckAccess with deny policies and shared policies agrees with the naive model", async () => {
  await fc.assert(
    fc.asyncProperty(
      treeArb,
      fc.array(queryArb, { minLength: 5, maxLength: 15 }),
      sharedSetArb,
      fc.array(mutationArb, { maxLength: 3 }),
      async ([org, clouds, projects], queries, sharedSet, mutations) => {
      const store = cachingStore(new SqliteStore(":memory:"));
      try {
        const nodes: { name: string; spec: NodeSpec; parent: string }[] = [];
        const add = async (name: string, spec: NodeSpec, parent: string) => {
          await createResource(store, { name, parent, type: spec.type, displayName: "" }, actor);
          nodes.push({ name, spec, parent });
          const version = spec.bindings.some((b) => b.cond === "cond") ? 3 : 1;
          const bindings = bindingsOf(spec.bindings);
          await store.updatePolicy(name, () => create(PolicySchema, { version, bindings }), actor);
          const rules = rulesOf(spec.rules);
          if (rules.length > 0) await updateDenyPolicy(store, name, () => create(DenyPolicySchema, { rules }), actor);
        };
        await add("organizations/o", org, "");
        for (const [i, c] of clouds.entries()) await add(`clouds/c${i}`, c, "organizations/o");
        for (const [i, p] of projects.entries()) await add(`projects/p${i}`, p, `clouds/c${p.parent}`);
        // Shared policies, bound at random places; the model keeps which are bound where.
        const shared = sharedSet.map(({ spec }, i) => ({ name: `sharedPolicies/s${i}`, spec, targets: new Set<string>() }));
        const putShared = (i: number, spec: SharedSpec) =>
          updateSharedPolicy(store, 
            shared[i]!.name,
            () => ({
              policy: create(SharedPolicySchema, { parent: "organizations/o", bindings: bindingsOf(spec.bindings), denyRules: rulesOf(spec.rules) }),
              type: "shared_policy",
            }),
            actor,
          );
        const setBound = async (i: number, target: string, bound: boolean) => {
          await updateBinding(store, shared[i]!.name, target, () => bound, actor);
          if (bound) shared[i]!.targets.add(target);
          else shared[i]!.targets.delete(target);
        };
        for (const [i, { spec, boundTo }] of sharedSet.entries()) {
          await putShared(i, spec);
          for (const n of boundTo) await setBound(i, nodes[n % nodes.length]!.name, true);
        }
        const access = new Access(store, schema);
        const byName = new Map(nodes.map((n) => [n.name, n]));
        const sharedAt = (name: string) => shared.filter((s) => s.targets.has(name));
        const verify = async (q: number, query: (typeof queries)[number]) => {
          const target = nodes[q % nodes.length]!;
          const chain: ModelLink[] = [];
          for (let at: string = target.name; at !== ""; at = byName.get(at)!.parent) {
            chain.push({ spec: byName.get(at)!.spec, shared: sharedAt(at).map((s) => s.spec) });
          }
          const request = create(CheckAccessRequestSchema, {
            resource: target.name,
            principals: query.subject,
            permissions: [query.permission],
            attributes: query.flag === undefined ? {} : { flag: fromJson(ValueSchema, query.flag) },
            explain: q % 2 === 0,
          });
          const answer = await access.check(request, access.callResources().of(target.name));
          const expected = model(chain, query.subject, query.permission, query.flag);
          expect(AccessState[answer.results[0]!.state], JSON.stringify({ target: target.name, query })).toBe(AccessState[expected]);
          // The effective policy names each shared binding and rule with its policy and where it is bound.
          const effective = effectivePolicy(target.name, (await store.ancestry(target.name))!, 3);
          const origins: string[] = [];
          const ruleOrigins: string[] = [];
          for (let at: string = target.name; at !== ""; at = byName.get(at)!.parent) {
            for (const s of sharedAt(at).sort((a, b) => (a.name < b.name ? -1 : 1))) {
              for (const b of s.spec.bindings) origins.push(`${s.name}@${at}:${b.role}`);
              s.spec.rules.forEach((_, i) => ruleOrigins.push(`${s.name}@${at}#${i}`));
            }
          }
          const shown = effective.bindings.filter((b) => b.sharedPolicy).map((b) => `${b.sharedPolicy}@${b.resource}:${b.binding!.role}`);
          // Bindings are stored merged and sorted: compare the set of (origin, role).
          expect(new Set(shown)).toEqual(new Set(origins));
          expect(effective.denyRules.filter((r) => r.sharedPolicy).map((r) => `${r.sharedPolicy}@${r.resource}#${r.ruleIndex}`)).toEqual(ruleOrigins);
        };
        for (const [q, query] of queries.entries()) await verify(q, query);
        if (shared.length === 0 || mutations.length === 0) return;
        // Changes to shared policies and bindings: the cached chains must follow them at once.
        for (const m of mutations) {
          const i = m.policy % shared.length;
          if (m.kind === "replace") {
            shared[i]!.spec = m.spec;
            await putShared(i, m.spec);
          } else {
            const node = nodes[m.node % nodes.length]!.name;
            await setBound(i, node, !shared[i]!.targets.has(node));
          }
        }
        for (const [q, query] of queries.entries()) await verify(q + 1, query);
      } finally {
        await store.close();
      }
    },
    ),
    { numRuns: 60 },
  );
}, 120_000);
