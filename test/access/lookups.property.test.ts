// Reverse lookups against a brute-force reference: for random hierarchies and policies (with conditions), and after
// random moves, deletes and policy changes, who-can equals walking the resource's chain, and what-can equals walking
// every resource of the type and checking its chain — read across pages of random sizes, with no duplicate or gap.
// Shared policies (AIP-2511, 0-3 of them, under an organization) are bound to random resources of their organization,
// then bound, unbound, changed and deleted among the other changes: the reference reads a bound shared policy's
// bindings as extra bindings of its target (roles read on the target's type, inherited like the target's own, kept
// when a move takes the target out of the organization, gone with the target), and who-can names the shared policy.
// The facades run on the real SQLite store behind the read cache, as the server runs them.
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { afterEach, expect, test } from "vitest";
import {
  AccessState,
  LookupMembersRequestSchema,
  LookupResourcesRequestSchema,
} from "../../gen/policy/v1/access_service_pb.js";
import { BindingSchema } from "../../gen/policy/v1/policy_pb.js";
import { SetPolicyRequestSchema } from "../../gen/policy/v1/policy_service_pb.js";
import { SharedPolicySchema } from "../../gen/policy/v1/shared_policy_pb.js";
import { Lookups } from "../../src/domain/access/lookups.js";
import { ResolvedResource } from "../../src/domain/access/resolved.js";
import { PageTokens } from "../../src/domain/page-token.js";
import { Policies } from "../../src/domain/policies.js";
import { parseSchema } from "../../src/schema/schema-loader.js";
import { cachingStore } from "../../src/store/caching-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { updateBinding, updateSharedPolicy } from "../../src/domain/kinds.js";
import type { Store } from "../../src/store/store.js";
import { COLLECTION, FOLDER_SCHEMA_YAML, ROLES, type FolderSchemaType } from "../helpers/folder-schema.js";
import { createResource } from "../../src/store/store.js";

/** The folder schema with the type of shared policies, as the default schema declares it (schema/default.yaml). */
const SHARED_POLICY_TYPE_YAML = `
  shared_policy:
    collection: sharedPolicies
    parents: [organization]
    roles:
      roles/owner:
        permissions: [sharedPolicies.get, sharedPolicies.update, sharedPolicies.delete]
`;
const schema = parseSchema(FOLDER_SCHEMA_YAML + SHARED_POLICY_TYPE_YAML, "folders.yaml");
const actor = { principal: "user:test@example.com" };

const MEMBERS = [
  "user:ada@example.com",
  "user:bob@other.com",
  "group:eng",
  "serviceAccount:ci@example.com",
  "domain:example.com",
  "allUsers",
  "allAuthenticatedUsers",
] as const;

/** Subjects asked about, and the binding members each one matches (the reference's own reading of IAM's rules). */
const SUBJECTS: readonly { principals: string[]; matches: string[] }[] = [
  { principals: ["user:ada@example.com"], matches: ["user:ada@example.com", "domain:example.com", "allAuthenticatedUsers", "allUsers"] },
  { principals: ["user:bob@other.com", "group:eng"], matches: ["user:bob@other.com", "group:eng", "allAuthenticatedUsers", "allUsers"] },
  { principals: ["serviceAccount:ci@example.com"], matches: ["serviceAccount:ci@example.com", "domain:example.com", "allAuthenticatedUsers", "allUsers"] },
  { principals: [], matches: ["allUsers"] },
];

/** Conditions, each with how the reference decides it: true, false, or undefined (cannot be evaluated). */
const CONDITIONS: readonly { expression: string; holds(resource: string, attributes: Record<string, JsonValue>): boolean | undefined }[] = [
  { expression: 'resource.name.endsWith("1")', holds: (resource) => resource.endsWith("1") },
  {
    expression: "request.attributes.ok == true",
    holds: (_, attributes) => ("ok" in attributes ? attributes.ok === true : undefined),
  },
  { expression: 'request.time < timestamp("2001-01-01T00:00:00Z")', holds: () => false },
];

const PERMISSIONS = ["projects.get", "projects.get", "folders.get", "projects.update", "folders.get", "folders.update", "organizations.get", "policies.set"];
const TYPES: readonly FolderSchemaType[] = ["project", "folder", "organization"];
const ATTRIBUTE_SETS: readonly Record<string, JsonValue>[] = [{}, { ok: true }, { ok: false }];
/** A shared policy's roles are read on each resource it is bound to: any type's role, granting only where it exists. */
const ANY_ROLES = [...new Set(Object.values(ROLES).flat())].sort();
/** Shared policies live in slots: a change to an empty slot creates one there. */
const SHARED_SLOTS = 3;

interface BindingSpec {
  role: number;
  members: string[];
  /** -1: unconditional; else an index into CONDITIONS. */
  condition: number;
}

interface ModelBinding {
  role: string;
  members: readonly string[];
  condition: number;
  /** The shared policy holding the binding; "" for a resource's own policy. */
  sharedPolicy: string;
}

interface ModelShared {
  organization: string;
  bindings: ModelBinding[];
  /** The resources it is bound to. */
  targets: Set<string>;
}

class Model {
  /** Organizations, folders and projects: never the shared policies' own resources. */
  readonly resources = new Map<string, { type: FolderSchemaType; parent: string }>();
  readonly policies = new Map<string, ModelBinding[]>();
  readonly shared = new Map<string, ModelShared>();

  names(...types: FolderSchemaType[]): string[] {
    return [...this.resources].filter(([, r]) => types.includes(r.type)).map(([name]) => name);
  }

  chain(name: string): string[] {
    const chain: string[] = [];
    for (let at = name; at !== ""; at = this.resources.get(at)!.parent) chain.push(at);
    return chain;
  }

  /** Who can, by brute force: every (member, binding) on the chain whose role grants the permission there. */
  whoCan(resource: string, permission: string, evaluate: boolean, attributes: Record<string, JsonValue>): string[] {
    const rows: string[] = [];
    for (const at of this.chain(resource)) {
      for (const b of this.grantingBindings(at, permission)) {
        const state = stateOf(b.condition, resource, evaluate, attributes);
        if (state === undefined) continue;
        for (const member of b.members) rows.push(JSON.stringify([member, b.role, at, conditionText(b.condition), state, b.sharedPolicy]));
      }
    }
    return rows.sort();
  }

  /** What can, by brute force: every resource of the type beneath the ancestor, its chain checked. */
  whatCan(matches: readonly string[], permission: string, type: FolderSchemaType, ancestor: string, evaluate: boolean, attributes: Record<string, JsonValue>): string[] {
    const rows: string[] = [];
    for (const name of this.names(type)) {
      const chain = this.chain(name);
      if (ancestor !== "" && !chain.includes(ancestor)) continue;
      const matched = chain.flatMap((at) => this.grantingBindings(at, permission)).filter((b) => b.members.some((m) => matches.includes(m)));
      if (matched.length === 0) continue;
      if (matched.some((b) => b.condition < 0)) {
        rows.push(JSON.stringify([name, AccessState.GRANTED, false]));
        continue;
      }
      if (!evaluate) {
        rows.push(JSON.stringify([name, AccessState.UNKNOWN_CONDITIONAL, true]));
        continue;
      }
      const outcomes = matched.map((b) => CONDITIONS[b.condition]!.holds(name, attributes));
      if (outcomes.includes(true)) rows.push(JSON.stringify([name, AccessState.GRANTED, true]));
      else if (outcomes.includes(undefined)) rows.push(JSON.stringify([name, AccessState.UNKNOWN_CONDITIONAL, true]));
    }
    return rows.sort();
  }

  /** The link's own bindings and those of the shared policies bound to it, whose roles grant the permission on its type. */
  private grantingBindings(at: string, permission: string): ModelBinding[] {
    const type = schema.types.get(this.resources.get(at)!.type)!;
    const shared = [...this.shared.values()].filter((s) => s.targets.has(at)).flatMap((s) => s.bindings);
    return [...(this.policies.get(at) ?? []), ...shared].filter((b) => type.roles.get(b.role)?.permissions.has(permission) === true);
  }
}

function conditionText(condition: number): string {
  return condition < 0 ? "" : CONDITIONS[condition]!.expression;
}

/** A grant's state at `resource`, or undefined when its condition is false there. */
function stateOf(condition: number, resource: string, evaluate: boolean, attributes: Record<string, JsonValue>): AccessState | undefined {
  if (condition < 0) return AccessState.GRANTED;
  if (!evaluate) return AccessState.UNKNOWN_CONDITIONAL;
  const holds = CONDITIONS[condition]!.holds(resource, attributes);
  if (holds === undefined) return AccessState.UNKNOWN_CONDITIONAL;
  return holds ? AccessState.GRANTED : undefined;
}

function pick<T>(items: readonly T[], n: number): T {
  return items[n % items.length]!;
}

/** Bindings as stored: those of the same role and condition merged, members de-duplicated. */
function mergeBindings(specs: readonly BindingSpec[], roles: readonly string[], sharedPolicy: string): ModelBinding[] {
  const merged = new Map<string, ModelBinding>();
  for (const b of specs) {
    const role = pick(roles, b.role);
    const key = `${role} ${b.condition}`;
    const members = new Set([...(merged.get(key)?.members ?? []), ...b.members]);
    merged.set(key, { role, members: [...members], condition: b.condition, sharedPolicy });
  }
  return [...merged.values()];
}

const bindingsArb = fc.array(
  fc.record({
    role: fc.nat(),
    members: fc.subarray([...MEMBERS], { minLength: 1, maxLength: 3 }),
    condition: fc.integer({ min: -3, max: CONDITIONS.length - 1 }).map((c) => Math.max(c, -1)),
  }),
  { maxLength: 4 },
);

const queryArb = fc.record({
  at: fc.nat(),
  subject: fc.nat(),
  permission: fc.nat(),
  type: fc.nat(),
  /** 0: no ancestor; else an index into the resources. */
  ancestor: fc.nat({ max: 6 }),
  attributes: fc.nat(),
  evaluate: fc.boolean(),
  pageSize: fc.integer({ min: 1, max: 5 }),
});
type Query = typeof queryArb extends fc.Arbitrary<infer Q> ? Q : never;

const stepArb = fc.oneof(
  fc.record({ kind: fc.constant("move" as const), node: fc.nat(), parent: fc.nat() }),
  fc.record({ kind: fc.constant("delete" as const), node: fc.nat() }),
  fc.record({ kind: fc.constant("setPolicy" as const), node: fc.nat(), bindings: bindingsArb }),
  fc.record({ kind: fc.constant("create" as const), type: fc.constantFrom("folder" as const, "project" as const), parent: fc.nat(), bindings: bindingsArb }),
  // Shared policies, by slot: bound to a resource of its organization, unbound from one of its targets, its bindings
  // replaced (or, in an empty slot, created under an organization), deleted with its bindings.
  fc.record({ kind: fc.constant("bind" as const), slot: fc.nat(), target: fc.nat() }),
  fc.record({ kind: fc.constant("unbind" as const), slot: fc.nat(), target: fc.nat() }),
  fc.record({ kind: fc.constant("setShared" as const), slot: fc.nat(), organization: fc.nat(), bindings: bindingsArb }),
  fc.record({ kind: fc.constant("deleteShared" as const), slot: fc.nat() }),
);
type Step = typeof stepArb extends fc.Arbitrary<infer S> ? S : never;

const scenarioArb = fc.record({
  organizations: fc.integer({ min: 1, max: 2 }),
  resources: fc.array(fc.record({ type: fc.constantFrom("folder" as const, "folder" as const, "project" as const), parent: fc.nat() }), {
    minLength: 1,
    maxLength: 18,
  }),
  policies: fc.array(fc.record({ node: fc.nat(), bindings: bindingsArb.filter((b) => b.length > 0) }), { minLength: 2, maxLength: 14 }),
  shared: fc.array(
    fc.record({ organization: fc.nat(), bindings: bindingsArb.filter((b) => b.length > 0), targets: fc.array(fc.nat(), { maxLength: 3 }) }),
    { maxLength: SHARED_SLOTS },
  ),
  steps: fc.array(fc.record({ step: stepArb, queries: fc.array(queryArb, { minLength: 1, maxLength: 3 }) }), { maxLength: 6 }),
});

let store: Store;
let lookups: Lookups;
let policies: Policies;

/** A fresh database for each scenario. */
async function openStore(): Promise<void> {
  store = cachingStore(new SqliteStore(":memory:"));
  const tokens = new PageTokens(await store.pageTokenKey());
  lookups = new Lookups(store, schema, tokens);
  policies = new Policies(store, schema, tokens);
}
afterEach(() => store?.close());

let runs = 0;

class Run {
  readonly model = new Model();
  private readonly prefix = `r${++runs}x`;
  private created = 0;

  async create(type: FolderSchemaType, parent: string): Promise<string> {
    // Ids ending in 1 and others, so that the resource.name condition splits them.
    const name = `${COLLECTION[type]}/${this.prefix}${++this.created}`;
    await createResource(store, { name, parent, type, displayName: "" }, actor);
    this.model.resources.set(name, { type, parent });
    return name;
  }

  async setPolicy(name: string, specs: readonly BindingSpec[]): Promise<void> {
    const type = this.model.resources.get(name)!.type;
    const bindings = specs.map((b) => ({
      role: pick(ROLES[type], b.role),
      members: b.members,
      condition: b.condition < 0 ? undefined : { expression: CONDITIONS[b.condition]!.expression },
    }));
    // With the stored etag: a confirmed read-modify-write may drop conditional bindings.
    const etag = (await store.getPolicy(name))!.policy.etag;
    await policies.set(create(SetPolicyRequestSchema, { resource: name, policy: { version: 3, bindings, etag } }), actor);
    // As stored: bindings of the same role and condition merged, members de-duplicated.
    this.model.policies.set(name, mergeBindings(specs, ROLES[type], ""));
  }

  sharedName(slot: number): string {
    return `sharedPolicies/${this.prefix}s${slot % SHARED_SLOTS}`;
  }

  /** Replaces the bindings of the shared policy in `slot`, or creates it under an organization. */
  async setShared(slot: number, organization: number, specs: readonly BindingSpec[]): Promise<void> {
    const name = this.sharedName(slot);
    const parent = this.model.shared.get(name)?.organization ?? pick(this.model.names("organization"), organization);
    // Written as the facade stores them (canonical): merged, so that a member holds one grant per role and condition.
    const bindings = mergeBindings(specs, ANY_ROLES, name);
    const policy = create(SharedPolicySchema, {
      parent,
      bindings: bindings.map((b) =>
        create(BindingSchema, {
          role: b.role,
          members: [...b.members],
          condition: b.condition < 0 ? undefined : { expression: CONDITIONS[b.condition]!.expression },
        }),
      ),
    });
    await updateSharedPolicy(store, name, () => ({ policy, type: "shared_policy" }), actor);
    const stored = this.model.shared.get(name);
    if (stored) stored.bindings = bindings;
    else this.model.shared.set(name, { organization: parent, bindings, targets: new Set() });
  }

  /** Binds the shared policy in `slot` (if any) to a resource of its organization (as the service allows: never another). */
  async bind(slot: number, target: number): Promise<void> {
    const name = this.sharedName(slot);
    const shared = this.model.shared.get(name);
    if (!shared) return;
    const inOrganization = this.model.names("organization", "folder", "project").filter((n) => this.model.chain(n).includes(shared.organization));
    const on = pick(inOrganization, target);
    await updateBinding(store, name, on, () => true, actor);
    shared.targets.add(on);
  }

  async unbind(slot: number, target: number): Promise<void> {
    const name = this.sharedName(slot);
    const targets = [...(this.model.shared.get(name)?.targets ?? [])].sort();
    if (targets.length === 0) return;
    const on = pick(targets, target);
    await updateBinding(store, name, on, () => false, actor);
    this.model.shared.get(name)!.targets.delete(on);
  }

  async step(step: Step): Promise<void> {
    switch (step.kind) {
      case "move": {
        const movable = this.model.names("folder", "project");
        if (movable.length === 0) return;
        const name = pick(movable, step.node);
        const inside = new Set(this.model.names("organization", "folder", "project").filter((n) => this.model.chain(n).includes(name)));
        const parent = pick(this.model.names("organization", "folder").filter((p) => !inside.has(p)), step.parent);
        await store.updateResource(name, () => ({ parent }), actor);
        this.model.resources.get(name)!.parent = parent;
        return;
      }
      case "delete": {
        const all = this.model.names("folder", "project");
        if (all.length === 0) return;
        const name = pick(all, step.node);
        const removed = await store.deleteResource(name, () => ({ cascade: true }), actor);
        for (const n of removed) {
          this.model.resources.delete(n);
          this.model.policies.delete(n);
          // A binding goes with its target.
          for (const s of this.model.shared.values()) s.targets.delete(n);
        }
        return;
      }
      case "setPolicy":
        return this.setPolicy(pick(this.model.names("organization", "folder", "project"), step.node), step.bindings);
      case "create": {
        const name = await this.create(step.type, pick(this.model.names("organization", "folder"), step.parent));
        return this.setPolicy(name, step.bindings);
      }
      case "bind":
        return this.bind(step.slot, step.target);
      case "unbind":
        return this.unbind(step.slot, step.target);
      case "setShared":
        return this.setShared(step.slot, step.organization, step.bindings);
      case "deleteShared": {
        const name = this.sharedName(step.slot);
        if (!this.model.shared.has(name)) return;
        await updateSharedPolicy(store, name, () => ({ delete: true, unbind: true }), actor);
        this.model.shared.delete(name);
        return;
      }
    }
  }

  async expectQuery(q: Query): Promise<void> {
    const all = this.model.names("organization", "folder", "project");
    const attributes = pick(ATTRIBUTE_SETS, q.attributes);
    const evaluate = q.evaluate || Object.keys(attributes).length > 0;
    const permission = pick(PERMISSIONS, q.permission);
    const attrs = Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, fromJson(ValueSchema, v)]));

    const resource = pick(all, q.at);
    const grants: string[] = [];
    const grantKeys: string[] = [];
    for (let pageToken = "", pages = 0; ; pages++) {
      expect(pages).toBeLessThan(100);
      const page = await lookups.members(
        create(LookupMembersRequestSchema, { resource, permission, attributes: attrs, evaluateConditions: q.evaluate, pageSize: q.pageSize, pageToken }),
        new ResolvedResource(resource, schema, store),
      );
      expect(page.grants.length).toBeLessThanOrEqual(q.pageSize);
      for (const g of page.grants) {
        grants.push(JSON.stringify([g.member, g.role, g.resource, g.condition?.expression ?? "", g.state, g.sharedPolicy]));
        // A member may hold the same role on the same resource through its own policy and shared policies.
        grantKeys.push(JSON.stringify([g.member, g.resource, g.role, g.condition?.expression ?? "", g.sharedPolicy]));
        expect(g.conditional).toBe(g.condition !== undefined);
      }
      if (page.nextPageToken === "") break;
      pageToken = page.nextPageToken;
    }
    expect(new Set(grantKeys).size, "no grant twice").toBe(grantKeys.length);
    expect(grants.slice().sort(), `who can ${permission} on ${resource}`).toEqual(this.model.whoCan(resource, permission, evaluate, attributes));

    const subject = pick(SUBJECTS, q.subject);
    const type = pick(TYPES, q.type);
    const ancestor = q.ancestor === 0 ? "" : pick(all, q.ancestor);
    const found: string[] = [];
    for (let pageToken = "", pages = 0; ; pages++) {
      expect(pages).toBeLessThan(200);
      const page = await lookups.resources(
        create(LookupResourcesRequestSchema, {
          principals: subject.principals,
          permission,
          resourceType: type,
          ancestor,
          attributes: attrs,
          evaluateConditions: q.evaluate,
          pageSize: q.pageSize,
          pageToken,
        }),
      );
      expect(page.resources.length).toBeLessThanOrEqual(q.pageSize);
      for (const r of page.resources) found.push(JSON.stringify([r.resource, r.state, r.conditional]));
      if (page.nextPageToken === "") break;
      pageToken = page.nextPageToken;
    }
    expect(new Set(found).size, "no resource twice").toBe(found.length);
    if (process.env.LOOKUP_DEBUG) {
      const viaShared = grants.filter((g) => !g.endsWith(',""]')).length;
      const bound = [...this.model.shared.values()].reduce((n, s) => n + s.targets.size, 0);
      console.log("who", grants.length, "via shared", viaShared, "what", found.length, "shared bindings", bound);
    }
    expect(found.slice().sort(), `what can ${subject.principals.join(",")} ${permission} on ${type} beneath "${ancestor}"`).toEqual(
      this.model.whatCan(subject.matches, permission, type, ancestor, evaluate, attributes),
    );
  }
}

test("who-can and what-can equal the brute-force reference, across pages, moves, deletes and policy changes", async () => {
  await fc.assert(
    fc.asyncProperty(scenarioArb, async (scenario) => {
      await store?.close();
      await openStore();
      const run = new Run();
      for (let i = 0; i < scenario.organizations; i++) await run.create("organization", "");
      for (const r of scenario.resources) await run.create(r.type, pick(run.model.names("organization", "folder"), r.parent));
      for (const p of scenario.policies) await run.setPolicy(pick(run.model.names("organization", "folder", "project"), p.node), p.bindings);
      for (const [slot, s] of scenario.shared.entries()) {
        await run.setShared(slot, s.organization, s.bindings);
        for (const target of s.targets) await run.bind(slot, target);
      }
      await run.expectQuery({ at: 0, subject: 0, permission: 0, type: 0, ancestor: 0, attributes: 0, evaluate: false, pageSize: 2 });
      for (const { step, queries } of scenario.steps) {
        await run.step(step);
        for (const q of queries) await run.expectQuery(q);
      }
    }),
    { numRuns: Number(process.env.LOOKUP_RUNS ?? 60) },
  );
}, 240_000);
