// LookupEffectivePolicy against a naive model: for random hierarchies and policies, the effective policy of a resource
// is its own policy and its ancestors', from the resource up to the root, before and after random moves and deletes.
import { Code } from "@connectrpc/connect";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ApiClients } from "../helpers/clients.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import {
  COLLECTION,
  ROLES,
  expectCode,
  viewBindings,
  viewEffective,
  writeFolderSchema,
  type BindingView,
  type EffectiveView,
  type FolderSchemaType,
} from "./support.js";

const MEMBERS = [
  "user:ada@example.com",
  "user:bob@example.com",
  "group:eng",
  "serviceAccount:ci@example.com",
  "domain:example.com",
  "allUsers",
] as const;

let server: TestServer;
let schema: ReturnType<typeof writeFolderSchema>;
beforeAll(async () => {
  schema = writeFolderSchema();
  server = await startTestServer({ schema: schema.path });
});
afterAll(async () => {
  await server.stop();
  schema.remove();
});

// ---------------------------------------------------------------------------------------------------------------------
// The model: the hierarchy and policies as the test believes them to be, and the naive effective policy.

interface ModelResource {
  type: FolderSchemaType;
  /** "" for an organization */
  parent: string;
}

class Model {
  readonly resources = new Map<string, ModelResource>();
  /** resource -> role -> members; only policies with at least one binding. */
  readonly policies = new Map<string, Map<string, Set<string>>>();

  names(...types: FolderSchemaType[]): string[] {
    return [...this.resources].filter(([, r]) => types.includes(r.type)).map(([name]) => name);
  }

  /** `name` and its ancestors, from it up to the root. */
  chain(name: string): string[] {
    const chain: string[] = [];
    for (let at = name; at !== ""; at = this.resources.get(at)!.parent) chain.push(at);
    return chain;
  }

  /** `name` and every resource beneath it. */
  subtree(name: string): string[] {
    return this.names("organization", "folder", "project").filter((n) => this.chain(n).includes(name));
  }

  /** The naive union: every policy on the chain, in chain order. */
  effective(name: string): EffectiveView {
    return {
      resource: name,
      policies: this.chain(name)
        .filter((at) => this.policies.has(at))
        .map((at) => ({ resource: at, bindings: this.bindingsOf(at) })),
    };
  }

  bindingsOf(name: string): BindingView[] {
    const roles = this.policies.get(name) ?? new Map<string, Set<string>>();
    return [...roles].map(([role, members]) => ({ role, members: [...members].sort() })).sort((a, b) => (a.role < b.role ? -1 : 1));
  }

  /** Records a policy as SetPolicy stores it: bindings of the same role merged. */
  setPolicy(name: string, bindings: readonly BindingSpec[]): void {
    const roles = new Map<string, Set<string>>();
    for (const b of bindings) {
      const role = pick(ROLES[this.resources.get(name)!.type], b.role);
      roles.set(role, new Set([...(roles.get(role) ?? []), ...b.members]));
    }
    if (roles.size === 0) this.policies.delete(name);
    else this.policies.set(name, roles);
  }

  remove(names: readonly string[]): void {
    for (const name of names) {
      this.resources.delete(name);
      this.policies.delete(name);
    }
  }
}

/** The `n`th item of `items`, wrapping around: turns a random natural number into a choice. */
function pick<T>(items: readonly T[], n: number): T {
  return items[n % items.length]!;
}

// ---------------------------------------------------------------------------------------------------------------------
// Random scenarios: a hierarchy, policies on some of its resources, then steps that change it.

interface BindingSpec {
  /** index into the roles of the resource's type */
  role: number;
  members: string[];
}

const bindingsArb = fc.array(
  fc.record({ role: fc.nat(), members: fc.subarray([...MEMBERS], { minLength: 1, maxLength: 3 }) }),
  { minLength: 0, maxLength: 3 },
);

/** Indexes into the current resources whose effective policy is checked after a step. */
const lookupsArb = fc.array(fc.nat(), { minLength: 2, maxLength: 5 });

const stepArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("move" as const), node: fc.nat(), parent: fc.nat(), lookups: lookupsArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("refusedMove" as const), node: fc.nat(), parent: fc.nat(), lookups: lookupsArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), node: fc.nat(), lookups: lookupsArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("create" as const),
      type: fc.constantFrom("folder" as const, "project" as const),
      parent: fc.nat(),
      bindings: bindingsArb,
      lookups: lookupsArb,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("setPolicy" as const), node: fc.nat(), bindings: bindingsArb, lookups: lookupsArb }) },
);
type Step = typeof stepArb extends fc.Arbitrary<infer S> ? S : never;

const scenarioArb = fc.record({
  protocol: fc.constantFrom("connect" as const, "grpc" as const),
  organizations: fc.integer({ min: 1, max: 3 }),
  /** Each resource's parent is picked among the organizations and folders created before it. */
  resources: fc.array(fc.record({ type: fc.constantFrom("folder" as const, "folder" as const, "project" as const), parent: fc.nat() }), {
    minLength: 1,
    maxLength: 22,
  }),
  policies: fc.array(fc.record({ node: fc.nat(), bindings: bindingsArb }), { maxLength: 10 }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 6 }),
});
type Scenario = typeof scenarioArb extends fc.Arbitrary<infer S> ? S : never;

// ---------------------------------------------------------------------------------------------------------------------
// Running a scenario against the server, checking it against the model as it goes.

let runs = 0;

class Run {
  readonly model = new Model();
  private readonly prefix = `run${++runs}`;
  private created = 0;

  constructor(private readonly clients: ApiClients) {}

  async create(type: FolderSchemaType, parent: string): Promise<string> {
    const name = `${COLLECTION[type]}/${this.prefix}-${++this.created}`;
    const resource = await this.clients.resources.createResource({ resource: { name, parent } });
    expect(resource.parent).toBe(parent);
    this.model.resources.set(name, { type, parent });
    return name;
  }

  async setPolicy(name: string, bindings: readonly BindingSpec[]): Promise<void> {
    const type = this.model.resources.get(name)!.type;
    if (bindings.length === 0) await this.clients.policies.deletePolicy({ resource: name });
    else {
      await this.clients.policies.setPolicy({
        resource: name,
        policy: { bindings: bindings.map((b) => ({ role: pick(ROLES[type], b.role), members: b.members })) },
      });
    }
    this.model.setPolicy(name, bindings);
  }

  async expectEffective(name: string): Promise<void> {
    const effective = await this.clients.policies.lookupEffectivePolicy({
      resource: name,
      options: { requestedPolicyVersion: 3 },
    });
    expect(viewEffective(effective), `effective policy of ${name}`).toEqual(this.model.effective(name));
    for (const p of effective.policies) expect(p.resourceType).toBe(this.model.resources.get(p.resource)!.type);
  }

  async expectEffectiveOf(names: Iterable<string>): Promise<void> {
    for (const name of new Set(names)) await this.expectEffective(name);
  }

  /** The effective policies of the resources at `lookups` (indexes into the current resources). */
  async expectLookups(lookups: readonly number[]): Promise<void> {
    const all = this.model.names("organization", "folder", "project");
    if (all.length > 0) await this.expectEffectiveOf(lookups.map((n) => pick(all, n)));
  }

  async step(step: Step): Promise<void> {
    switch (step.kind) {
      case "move":
        return this.move(step.node, step.parent);
      case "refusedMove":
        return this.refusedMove(step.node, step.parent);
      case "delete":
        return this.delete(step.node);
      case "create": {
        const parents = this.model.names("organization", "folder");
        if (parents.length === 0) return;
        const name = await this.create(step.type, pick(parents, step.parent));
        await this.setPolicy(name, step.bindings);
        return this.expectEffective(name);
      }
      case "setPolicy": {
        const all = this.model.names("organization", "folder", "project");
        if (all.length === 0) return;
        const name = pick(all, step.node);
        await this.setPolicy(name, step.bindings);
        // Its own effective policy and its descendants' see the change at once.
        return this.expectEffectiveOf(this.model.subtree(name));
      }
    }
  }

  /** A folder or project moves under an organization or folder outside its own subtree. */
  private async move(node: number, parent: number): Promise<void> {
    const movable = this.model.names("folder", "project");
    if (movable.length === 0) return;
    const name = pick(movable, node);
    const subtree = this.model.subtree(name);
    const newParent = pick(
      this.model.names("organization", "folder").filter((p) => !subtree.includes(p)),
      parent,
    );
    const moved = await this.clients.resources.updateResource({
      resource: { name, parent: newParent },
      updateMask: { paths: ["parent"] },
    });
    expect(moved.parent).toBe(newParent);
    this.model.resources.get(name)!.parent = newParent;
    // The whole moved subtree sees its new ancestors' policies, and no longer its old ones, at once.
    await this.expectEffectiveOf(subtree);
  }

  /**
   * A folder moved under itself or one of its descendants (a cycle), or anything moved under a project (the schema
   * forbids it), is refused with INVALID_ARGUMENT and changes nothing.
   */
  private async refusedMove(node: number, parent: number): Promise<void> {
    const folders = this.model.names("folder");
    const projects = this.model.names("project");
    if (folders.length === 0 && projects.length === 0) return;
    const name = folders.length > 0 ? pick(folders, node) : pick(projects, node);
    const type = this.model.resources.get(name)!.type;
    const refusedParents = [
      ...(type === "folder" ? this.model.subtree(name).filter((n) => this.model.resources.get(n)!.type === "folder") : []),
      ...projects.filter((p) => p !== name),
    ];
    if (refusedParents.length === 0) return;
    const newParent = pick(refusedParents, parent);
    const before = await this.clients.resources.getResource({ name });
    await expectCode(
      this.clients.resources.updateResource({ resource: { name, parent: newParent }, updateMask: { paths: ["parent"] } }),
      Code.InvalidArgument,
    );
    const after = await this.clients.resources.getResource({ name });
    expect(after.parent).toBe(before.parent);
    expect(after.etag).toBe(before.etag);
    await this.expectEffectiveOf(this.model.subtree(name));
  }

  /** A cascading delete removes the subtree and its policies: they give NOT_FOUND and contribute nowhere. */
  private async delete(node: number): Promise<void> {
    const all = this.model.names("organization", "folder", "project");
    if (all.length === 0) return;
    const name = pick(all, node);
    const subtree = this.model.subtree(name);
    const { deleted } = await this.clients.resources.deleteResource({ name, cascade: true });
    expect([...deleted].sort()).toEqual([...subtree].sort());
    // Deepest first: every resource is deleted after its descendants.
    deleted.forEach((gone, i) => {
      for (const below of this.model.subtree(gone)) expect(deleted.indexOf(below)).toBeLessThanOrEqual(i);
    });
    this.model.remove(subtree);
    for (const gone of subtree) {
      await expectCode(this.clients.policies.lookupEffectivePolicy({ resource: gone }), Code.NotFound);
      await expectCode(this.clients.policies.getPolicy({ resource: gone }), Code.NotFound);
    }
  }
}

/** Builds the scenario's hierarchy and policies, checks every resource, then runs and checks each step. */
async function runScenario(scenario: Scenario): Promise<void> {
  const run = new Run(server[scenario.protocol]);
  for (let i = 0; i < scenario.organizations; i++) await run.create("organization", "");
  for (const r of scenario.resources) await run.create(r.type, pick(run.model.names("organization", "folder"), r.parent));
  const all = run.model.names("organization", "folder", "project");
  for (const p of scenario.policies) await run.setPolicy(pick(all, p.node), p.bindings);
  await run.expectEffectiveOf(all);
  for (const step of scenario.steps) {
    await run.step(step);
    await run.expectLookups(step.lookups);
  }
}

describe("LookupEffectivePolicy", () => {
  test("equals the naive union up the hierarchy, before and after random moves, deletes and policy changes", async () => {
    await fc.assert(fc.asyncProperty(scenarioArb, runScenario), { numRuns: 30 });
  }, 180_000);

  test("an unknown resource is NOT_FOUND, a malformed name INVALID_ARGUMENT", async () => {
    await expectCode(server.connect.policies.lookupEffectivePolicy({ resource: "folders/never-created" }), Code.NotFound);
    await expectCode(server.grpc.policies.lookupEffectivePolicy({ resource: "folders/never-created" }), Code.NotFound);
    await expectCode(server.connect.policies.lookupEffectivePolicy({ resource: "widgets/w1" }), Code.InvalidArgument);
    await expectCode(server.connect.policies.lookupEffectivePolicy({ resource: "" }), Code.InvalidArgument);
  });

  test("no policy anywhere up the chain is an empty effective policy, not an error", async () => {
    const run = new Run(server.connect);
    const org = await run.create("organization", "");
    const folder = await run.create("folder", org);
    const project = await run.create("project", folder);
    // A policy elsewhere, and a policy emptied by DeletePolicy, contribute nothing.
    const sibling = await run.create("project", org);
    await run.setPolicy(sibling, [{ role: 0, members: ["user:ada@example.com"] }]);
    await run.setPolicy(folder, [{ role: 0, members: ["user:ada@example.com"] }]);
    await run.setPolicy(folder, []);

    const effective = await server.connect.policies.lookupEffectivePolicy({ resource: project });
    expect(effective.resource).toBe(project);
    expect(effective.policies).toEqual([]);
    expect(effective.bindings).toEqual([]);
  });

  test("requested_policy_version below 3 shows a conditional ancestor's bindings as _withcond_ roles; 3 shows the conditions", async () => {
    const run = new Run(server.connect);
    const org = await run.create("organization", "");
    const folder = await run.create("folder", org);
    const project = await run.create("project", folder);
    const condition = { title: "until 2030", expression: 'request.time < timestamp("2030-01-01T00:00:00Z")' };
    await server.connect.policies.setPolicy({
      resource: org,
      policy: {
        version: 3,
        bindings: [
          { role: "roles/owner", members: ["user:ada@example.com"], condition },
          { role: "roles/viewer", members: ["user:bob@example.com"] },
        ],
      },
    });
    await server.connect.policies.setPolicy({
      resource: project,
      policy: { bindings: [{ role: "roles/editor", members: ["user:cy@example.com"] }] },
    });

    for (const requestedPolicyVersion of [0, 1]) {
      const effective = await server.connect.policies.lookupEffectivePolicy({ resource: project, options: { requestedPolicyVersion } });
      expect(effective.policies.map((p) => p.resource)).toEqual([project, org]);
      const orgPolicy = effective.policies[1]!.policy!;
      expect(orgPolicy.version).toBe(1);
      expect(orgPolicy.bindings.map((b) => b.condition)).toEqual([undefined, undefined]);
      expect(orgPolicy.bindings.map((b) => b.role).sort()).toEqual([
        expect.stringMatching(/^roles\/owner_withcond_[0-9a-f]+$/),
        "roles/viewer",
      ]);
      // The merged bindings present the same, renamed, roles.
      expect(effective.bindings.filter((b) => b.resource === org).map((b) => b.binding!.role).sort()).toEqual(
        orgPolicy.bindings.map((b) => b.role).sort(),
      );
    }

    const effective = await server.connect.policies.lookupEffectivePolicy({ resource: project, options: { requestedPolicyVersion: 3 } });
    const orgPolicy = effective.policies[1]!.policy!;
    expect(orgPolicy.version).toBe(3);
    const owner = orgPolicy.bindings.find((b) => b.role === "roles/owner")!;
    expect(owner.condition).toMatchObject(condition);
    expect(effective.bindings.find((b) => b.binding!.role === "roles/owner")!.binding!.condition).toMatchObject(condition);
    expect(effective.policies[0]!.policy!.version).toBe(1);
    expect(viewBindings(effective.policies[0]!.policy!.bindings)).toEqual([{ role: "roles/editor", members: ["user:cy@example.com"] }]);

    await expectCode(
      server.connect.policies.lookupEffectivePolicy({ resource: project, options: { requestedPolicyVersion: 2 } }),
      Code.InvalidArgument,
    );
  });
});
