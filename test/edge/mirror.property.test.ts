// The proof of the mirror: random writes (policies, deny policies, custom roles, shared policies and their bindings,
// moves in and out of the scope, deletes and re-creates) while the mirror follows through a proxy that drops its
// connections at random, a server restart, and a retention gap (the server restarted with a change log pruned past
// the mirror's position, so that Watch answers OUT_OF_RANGE and the mirror re-snapshots). On PostgreSQL
// (POLICY_TEST_DB=postgres) there are two replicas on one database: writes go to either, and the mirror's proxy
// switches between them. After each quiet point (the mirror has reached the server's latest sequence), the mirror's
// answers equal the server's CheckAccess for random checks, and it answered those of its scope itself.
import { Code, ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import { afterEach, expect, test, vi } from "vitest";
import { createPolicyClient, createPolicyMirror, type PolicyMirror } from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/temp-dir.js";
import { waitFor } from "../helpers/wait.js";
import { tcpProxy, type TcpProxy } from "./tcp-proxy.js";

vi.setConfig({ testTimeout: 240_000 });

const ORG = "organizations/pt";
const OUT = "organizations/pt_out";
const ROLE = `${ORG}/roles/r0`;
const PARENTS = ["clouds/pt_c0", "clouds/pt_c1", ORG, "clouds/pt_x"];
const PROJECTS = ["projects/pt_p0", "projects/pt_p1", "projects/pt_p2", "projects/pt_p3"];
const TARGETS = [ORG, "clouds/pt_c0", "clouds/pt_c1", ...PROJECTS];
const SHARED = ["sharedPolicies/pt-s0", "sharedPolicies/pt-s1"];
const MEMBERS = ["user:ada@example.com", "user:bob@example.com", "group:eng", "allAuthenticatedUsers"];
const ROLES = ["roles/owner", "roles/collaborator", "roles/readonly", ROLE];
const PERMISSIONS = ["projects.get", "projects.update", "projects.delete", "clouds.get", "projects.setPolicy"];
const PRINCIPALS = [["user:ada@example.com"], ["user:bob@example.com"], ["user:bob@example.com", "group:eng"], ["user:eve@example.com"]];
const ON_PG = process.env.POLICY_TEST_DB === "postgres";

const some = (items: readonly string[], min = 1) => fc.subarray([...items], { minLength: min, maxLength: 3 });
const bindings = fc.array(fc.record({ role: fc.constantFrom(...ROLES), members: some(MEMBERS) }), { maxLength: 2 });
const denyRules = fc.array(fc.record({ deniedPrincipals: some(MEMBERS), deniedPermissions: some(PERMISSIONS) }), { maxLength: 1 });

type Op =
  | { kind: "policy"; target: number; bindings: { role: string; members: string[] }[] }
  | { kind: "deletePolicy"; target: number }
  | { kind: "deny"; target: number; rules: { deniedPrincipals: string[]; deniedPermissions: string[] }[] }
  | { kind: "role"; permissions: string[]; deleted: boolean }
  | { kind: "shared"; id: number; bindings: { role: string; members: string[] }[]; rules: { deniedPrincipals: string[]; deniedPermissions: string[] }[] }
  | { kind: "bind"; id: number; target: number; bound: boolean }
  | { kind: "move"; project: number; parent: number }
  | { kind: "delete"; project: number }
  | { kind: "create"; project: number; parent: number }
  | { kind: "cut" }
  | { kind: "restart" }
  | { kind: "gap" }
  | { kind: "switch" }
  | { kind: "quiet"; checks: { resource: number; principals: number; permissions: string[] }[] };

const target = fc.nat(TARGETS.length - 1);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("policy" as const), target, bindings }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("deletePolicy" as const), target }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("deny" as const), target, rules: denyRules }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("role" as const), permissions: some(PERMISSIONS), deleted: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("shared" as const), id: fc.nat(1), bindings, rules: denyRules }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("bind" as const), id: fc.nat(1), target, bound: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("move" as const), project: fc.nat(PROJECTS.length - 1), parent: fc.nat(PARENTS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), project: fc.nat(PROJECTS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("create" as const), project: fc.nat(PROJECTS.length - 1), parent: fc.nat(PARENTS.length - 1) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "cut" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: ON_PG ? ("switch" as const) : ("cut" as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("quiet" as const),
      checks: fc.array(
        fc.record({ resource: fc.nat(TARGETS.length + 1), principals: fc.nat(PRINCIPALS.length - 1), permissions: some(PERMISSIONS) }),
        { minLength: 3, maxLength: 6 },
      ),
    }),
  },
);
/** A run: random operations, with one restart and one retention gap somewhere among them, then a last quiet point. */
const runArb = fc
  .tuple(fc.array(opArb, { minLength: 12, maxLength: 24 }), fc.nat(100), fc.nat(100))
  .map(([ops, restartAt, gapAt]) => {
    const all = [...ops];
    all.splice(restartAt % (all.length + 1), 0, { kind: "restart" });
    all.splice(gapAt % (all.length + 1), 0, { kind: "gap" });
    all.push({ kind: "quiet", checks: TARGETS.map((_, resource) => ({ resource, principals: resource % PRINCIPALS.length, permissions: PERMISSIONS })) });
    return all;
  });

/** The servers (one on SQLite; two replicas of one database on PostgreSQL), behind the mirror's proxy. */
class Cluster {
  servers: TestServer[] = [];
  current = 0;
  private first!: TestServer;
  proxy!: TcpProxy;
  private readonly dir = tempDir("edge-prop-");

  async start(): Promise<void> {
    this.first = await startTestServer({}, { dir: this.dir });
    this.servers = [this.first];
    if (ON_PG) this.servers.push(await startTestServer({ db: this.first.db }, { dir: this.dir }));
    this.proxy = await tcpProxy(this.first.url);
  }

  /** A server to write through: on PostgreSQL, either replica (several servers publish). */
  writer(pick: number): TestServer {
    return this.servers[pick % this.servers.length]!;
  }

  /** Restarts the server the mirror follows (on a new port); `retention` prunes the change log at its start. */
  async restart(retention?: { keepLast: number }): Promise<void> {
    const old = this.servers[this.current]!;
    await old.close();
    const restarted = await startTestServer({ db: this.first.db, ...(retention ? { changeRetention: retention } : {}) }, { dir: this.dir });
    this.servers[this.current] = restarted;
    this.proxy.target(restarted.url);
    this.proxy.cut();
  }

  switchReplica(): void {
    this.current = (this.current + 1) % this.servers.length;
    this.proxy.target(this.servers[this.current]!.url);
    this.proxy.cut();
  }

  async stop(): Promise<void> {
    await this.proxy?.close();
    for (const server of this.servers) if (server !== this.first) await server.close().catch(() => undefined);
    await this.first.close().catch(() => undefined);
    await this.first.stop().catch(() => undefined);
  }
}

let cluster: Cluster | undefined;
let mirror: PolicyMirror | undefined;
afterEach(async () => {
  await mirror?.close();
  await cluster?.stop();
});

/** Applies a write; a write the server refuses (a stale reference, a rule) is part of the randomness. */
async function write(api: TestServer["grpc"], op: Op): Promise<void> {
  try {
    switch (op.kind) {
      case "policy":
        await api.policies.setPolicy({ resource: TARGETS[op.target]!, policy: { bindings: op.bindings } });
        break;
      case "deletePolicy":
        await api.policies.deletePolicy({ resource: TARGETS[op.target]! });
        break;
      case "deny":
        await api.denyPolicies.setDenyPolicy({ resource: TARGETS[op.target]!, denyPolicy: { rules: op.rules } });
        break;
      case "role": {
        const existing = await api.roles.getRole({ name: ROLE }).catch(() => undefined);
        if (!existing) await api.roles.createRole({ parent: ORG, roleId: "r0", role: { includedPermissions: op.permissions } });
        else if (op.deleted && !existing.deleted) await api.roles.deleteRole({ name: ROLE });
        else if (existing.deleted) await api.roles.undeleteRole({ name: ROLE });
        else await api.roles.updateRole({ role: { name: ROLE, includedPermissions: op.permissions }, updateMask: { paths: ["included_permissions"] } });
        break;
      }
      case "shared": {
        const name = SHARED[op.id]!;
        const policy = { bindings: op.bindings, denyRules: op.rules };
        const existing = await api.sharedPolicies.getSharedPolicy({ name }).catch(() => undefined);
        if (existing) await api.sharedPolicies.updateSharedPolicy({ sharedPolicy: { ...policy, name } });
        else await api.sharedPolicies.createSharedPolicy({ parent: ORG, sharedPolicyId: name.split("/")[1]!, sharedPolicy: policy });
        break;
      }
      case "bind":
        if (op.bound) await api.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: SHARED[op.id]!, target: TARGETS[op.target]! } });
        else await api.sharedPolicies.deleteSharedPolicyBinding({ sharedPolicy: SHARED[op.id]!, target: TARGETS[op.target]! });
        break;
      case "move":
        await api.resources.updateResource({ resource: { name: PROJECTS[op.project]!, parent: PARENTS[op.parent]! }, updateMask: { paths: ["parent"] } });
        break;
      case "delete":
        await api.resources.deleteResource({ name: PROJECTS[op.project]! });
        break;
      case "create":
        await api.resources.createResource({ resource: { name: PROJECTS[op.project]!, parent: PARENTS[op.parent]! } });
        break;
    }
  } catch (e) {
    const code = ConnectError.from(e).code;
    if (![Code.NotFound, Code.InvalidArgument, Code.FailedPrecondition, Code.AlreadyExists, Code.Aborted].includes(code)) throw e;
  }
}

/** Resolves once the server's change log no longer holds sequence 2 (it prunes at start, asynchronously). */
async function pruned(api: TestServer["grpc"]): Promise<void> {
  await waitFor(async () => {
    const abort = new AbortController();
    try {
      for await (const _ of api.watch.watch({ afterSequence: 1n }, { signal: abort.signal })) break;
      return false;
    } catch (e) {
      return ConnectError.from(e).code === Code.OutOfRange;
    } finally {
      abort.abort();
    }
  }, "the change log to be pruned");
}

/** What a check answers, comparable: the states, or the error's code. */
async function outcome(call: Promise<{ results: { state: number }[] }>): Promise<string> {
  try {
    return (await call).results.map((r) => r.state).join(",");
  } catch (e) {
    return `error ${Code[ConnectError.from(e).code]}`;
  }
}

test("the mirror's answers equal the server's after every quiet point, through disconnects, a restart and a retention gap", async () => {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(runArb, async (ops) => {
      runs++;
      cluster = new Cluster();
      await cluster.start();
      const seed = cluster.writer(0).grpc;
      await seed.resources.createResource({ resource: { name: ORG } });
      await seed.resources.createResource({ resource: { name: OUT } });
      for (const cloud of PARENTS.slice(0, 2)) await seed.resources.createResource({ resource: { name: cloud, parent: ORG } });
      await seed.resources.createResource({ resource: { name: "clouds/pt_x", parent: OUT } });
      for (const [i, project] of PROJECTS.entries()) await seed.resources.createResource({ resource: { name: project, parent: PARENTS[i % 3]! } });
      const client = createPolicyClient({ baseUrl: cluster.proxy.url });
      mirror = createPolicyMirror({ client, scope: ORG, progressIntervalMs: 100, backoff: { initialMs: 20, maxMs: 200 } });
      await mirror.ready;
      let gaps = 0;
      for (const [i, op] of ops.entries()) {
        if (op.kind === "cut") cluster.proxy.cut();
        else if (op.kind === "switch") cluster.switchReplica();
        else if (op.kind === "restart") await cluster.restart();
        else if (op.kind === "gap") {
          // The mirror misses writes while away, and the log that held them is pruned before it is back.
          cluster.proxy.refuse(true);
          cluster.proxy.cut();
          await write(cluster.writer(i).grpc, { kind: "policy", target: 1, bindings: [{ role: "roles/readonly", members: ["user:gap@example.com"] }] });
          await write(cluster.writer(i + 1).grpc, { kind: "policy", target: 2, bindings: [{ role: "roles/readonly", members: [`user:gap${i}@example.com`] }] });
          await cluster.restart({ keepLast: 1 });
          await pruned(cluster.servers[cluster.current]!.grpc);
          cluster.proxy.refuse(false);
          gaps++;
        } else if (op.kind === "quiet") {
          const server = cluster.servers[cluster.current]!.grpc;
          const latest = (await server.access.checkAccess({ resource: ORG, principals: ["user:ada@example.com"], permissions: ["clouds.get"] })).sequence;
          expect(await mirror.waitFor(latest, 30_000), `the mirror reaches sequence ${latest}`).toBe(true);
          for (const check of op.checks) {
            const resource = [...TARGETS, "clouds/pt_x", "projects/pt_none"][check.resource]!;
            const request = { resource, principals: PRINCIPALS[check.principals]!, permissions: check.permissions };
            const before = mirror.metrics();
            const local = await outcome(mirror.checkAccess(request));
            const remote = await outcome(server.access.checkAccess(request));
            expect(local, `${resource} ${request.principals.join(" ")} ${request.permissions.join(" ")} (run ${runs}, step ${i})`).toBe(remote);
            // A resource of the scope is answered by the mirror itself, not by the fallback.
            const inScope = await server.policies
              .lookupEffectivePolicy({ resource })
              .then((e) => e.policies.some((p) => p.resource === ORG))
              .catch(() => false);
            if (inScope) expect(mirror.metrics().answeredByRpc, `${resource} answered in process`).toBe(before.answeredByRpc);
          }
        } else {
          await write(cluster.writer(i).grpc, op);
        }
      }
      if (gaps > 0) expect(mirror.metrics().resnapshots).toBeGreaterThan(0);
      await mirror.close();
      mirror = undefined;
      client.close();
      await cluster.stop();
      cluster = undefined;
    }),
    // Each run starts servers: a failure is reported as found (with its seed and path) rather than shrunk at length.
    { numRuns: 4, endOnFailure: true },
  );
  expect(runs).toBe(4);
});
