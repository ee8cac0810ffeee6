// Three server processes on one PostgreSQL database, as behind a load balancer: concurrent etag read-modify-write
// spread over them (ABORTED retries, no lost update), read-after-write across replicas, kill -9 of one replica, and
// PostgreSQL shut down (`pg_ctl stop -m fast`: every session told "admin shutdown") and started again under load
// (UNAVAILABLE and NOT_SERVING meanwhile, never INTERNAL; the replicas serve again by themselves). It runs on a private
// cluster (test/helpers/private-postgres.ts), so it never disturbs the machine's PostgreSQL; the abrupt stop
// (`-m immediate`) is postgres-outage.test.ts.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Health } from "../../gen/health/v1/health_pb.js";
import { PolicyService } from "../../gen/policy/v1/policy_service_pb.js";
import { ResourceService } from "../../gen/policy/v1/resource_service_pb.js";
import { spawnServer, type ChildServer } from "../helpers/child-server.js";
import { expectCode, retryWhileUnavailable } from "../helpers/call-failures.js";
import { Status, watchHealth } from "../helpers/health-watch.js";
import { privatePostgresAvailable, startPrivateCluster, type PrivateCluster } from "../helpers/private-postgres.js";
import { pause, waitFor } from "../helpers/wait.js";

const ORG = "organizations/replicated";

function apiFor(url: string) {
  const transport = createGrpcTransport({ baseUrl: url });
  return {
    policies: createClient(PolicyService, transport),
    resources: createClient(ResourceService, transport),
    health: createClient(Health, transport),
  };
}
type Api = ReturnType<typeof apiFor>;

const codeOf = (e: unknown) => ConnectError.from(e).code;

describe.runIf(privatePostgresAvailable())("replicas on one PostgreSQL database", () => {
  let cluster: PrivateCluster;
  const replicas: ChildServer[] = [];
  let apis: Api[] = [];
  let url = "";

  beforeAll(async () => {
    cluster = await startPrivateCluster();
    url = await cluster.createDatabase();
    // One after another: starting is CPU-bound, and this machine's two cores are shared.
    for (let i = 0; i < 3; i++) replicas.push(await spawnServer(url, ["--db-pool", "4", "--db-statement-timeout-ms", "3000"]));
    apis = replicas.map((replica) => apiFor(replica.url));
    await apis[0]!.resources.createResource({ resource: { name: ORG } });
  }, 120_000);
  afterAll(async () => {
    for (const replica of replicas) await replica.stop("SIGKILL");
    await cluster?.destroy();
  });

  test("concurrent read-modify-write over three replicas: losers are ABORTED and retry, nothing is lost", async () => {
    // A resource of its own: the members are counted exactly, and other tests write ORG's policy.
    const RMW = "organizations/replicated-rmw";
    await apis[0]!.resources.createResource({ resource: { name: RMW } });
    const CLIENTS = 6;
    let aborted = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const api = apis[i % apis.length]!;
        for (let attempt = 0; attempt < 200; attempt++) {
          const policy = await api.policies.getPolicy({ resource: RMW });
          const members = policy.bindings[0]?.members ?? [];
          try {
            await api.policies.setPolicy({
              resource: RMW,
              policy: { etag: policy.etag, bindings: [{ role: "roles/owner", members: [...members, `user:c${i}@example.com`] }] },
            });
            return;
          } catch (e) {
            if (codeOf(e) !== Code.Aborted) throw e;
            aborted++;
          }
        }
        throw new Error(`client ${i} never won`);
      }),
    );
    for (const api of apis) {
      const members = (await api.policies.getPolicy({ resource: RMW })).bindings[0]!.members;
      expect([...members].sort()).toEqual(Array.from({ length: CLIENTS }, (_, i) => `user:c${i}@example.com`).sort());
    }
    expect(aborted).toBeGreaterThan(0);
  }, 60_000);

  test("a write acknowledged by one replica is read at once by the others", async () => {
    for (let round = 0; round < 12; round++) {
      const writer = apis[round % 3]!;
      const member = `user:r${round}@example.com`;
      const written = await writer.policies.setPolicy({ resource: ORG, policy: { bindings: [{ role: "roles/owner", members: [member] }] } });
      for (const reader of apis) {
        const read = await reader.policies.getPolicy({ resource: ORG });
        expect(read.etag, `round ${round}`).toEqual(written.etag);
        const effective = await reader.policies.lookupEffectivePolicy({ resource: ORG });
        expect(effective.bindings.flatMap((b) => b.binding?.members ?? [])).toContain(member);
      }
    }
  });

  test("a page of ListPolicies read again on each replica follows every replica's writes", async () => {
    const projects = ["projects/rep_a", "projects/rep_b", "projects/rep_c"];
    for (const name of projects) await apis[0]!.resources.createResource({ resource: { name, parent: ORG } });
    const page = async (api: Api) =>
      (await api.policies.listPolicies({ resourceType: "project", parent: ORG, pageSize: 10 })).resourcePolicies.map((p) => [
        p.resource,
        p.policy!.bindings.flatMap((b) => b.members),
      ]);
    for (const api of apis) expect(await page(api)).toEqual([]);
    for (const [i, name] of projects.entries()) {
      const member = `user:lister${i}@example.com`;
      await apis[i]!.policies.setPolicy({ resource: name, policy: { bindings: [{ role: "roles/readonly", members: [member] }] } });
      // Each replica read this page before the write (its memo): the next read must show the write.
      for (const api of apis) expect((await page(api)).map(([resource]) => resource), `after ${name}`).toEqual(projects.slice(0, i + 1));
    }
    await apis[2]!.policies.setPolicy({ resource: projects[0]!, policy: { bindings: [] } });
    for (const api of apis) expect((await page(api)).map(([resource]) => resource)).toEqual(projects.slice(1));
  });

  test("kill -9 of a replica loses none of its acknowledged writes; the others serve on", async () => {
    // A fourth replica of its own to kill, so that the other tests keep their three.
    const doomed = await spawnServer(url, ["--db-pool", "4", "--db-statement-timeout-ms", "3000"]);
    const victim = apiFor(doomed.url);
    const created: string[] = [];
    for (let i = 0; i < 20; i++) {
      const name = `projects/k${i}`;
      await victim.resources.createResource({ resource: { name, parent: ORG } });
      created.push(name);
    }
    const last = await victim.policies.setPolicy({ resource: ORG, policy: { bindings: [{ role: "roles/owner", members: ["user:last@example.com"] }] } });
    expect(await doomed.stop("SIGKILL")).toBe("SIGKILL");
    for (const api of apis) {
      expect((await api.policies.getPolicy({ resource: ORG })).etag).toEqual(last.etag);
      for (const name of created) expect((await api.resources.getResource({ name })).name).toBe(name);
    }
  }, 60_000);

  test("PostgreSQL shut down and started under load: UNAVAILABLE and NOT_SERVING meanwhile, then serving again by itself", async () => {
    const codes = new Map<Code, number>();
    const served = apis.map(() => 0);
    let loading = true;
    const load = apis.map(async (api, i) => {
      for (let n = 0; loading; n++) {
        try {
          await api.policies.setPolicy({ resource: ORG, policy: { bindings: [{ role: "roles/owner", members: [`user:l${i}_${n}@example.com`] }] } });
          await api.policies.getPolicy({ resource: ORG });
          served[i]!++;
        } catch (e) {
          codes.set(codeOf(e), (codes.get(codeOf(e)) ?? 0) + 1);
          // A client's pause before retrying UNAVAILABLE.
          await pause(20);
        }
      }
    });
    const healths = replicas.map((replica) => watchHealth(apiFor(replica.url).health));
    try {
      await Promise.all(healths.map((health) => health.reaches(Status.SERVING)));
      await waitFor(() => served.every((count) => count >= 2), "two served writes through every replica");
      const before = healths.map((health) => health.seen.length);
      await cluster.stop("fast");
      try {
        for (const [i, api] of apis.entries()) {
          await healths[i]!.reaches(Status.NOT_SERVING, before[i]);
          await expectCode(api.policies.getPolicy({ resource: ORG }), Code.Unavailable);
        }
      } finally {
        await cluster.start();
      }
      // SERVING again counts from just after each replica's NOT_SERVING: it may come while the cluster is starting,
      // before this line runs.
      const down = healths.map((health, i) => health.seen.indexOf(Status.NOT_SERVING, before[i]) + 1);
      for (const [i, api] of apis.entries()) {
        await healths[i]!.reaches(Status.SERVING, down[i]);
        await retryWhileUnavailable(() => api.policies.getPolicy({ resource: ORG }));
      }
    } finally {
      loading = false;
      await Promise.all(load);
      for (const health of healths) await health.stop();
    }
    expect(codes.get(Code.Unavailable) ?? 0).toBeGreaterThan(0);
    expect([...codes.keys()].filter((code) => code !== Code.Unavailable).map((code) => Code[code])).toEqual([]);
    for (const replica of replicas) expect(replica.process.exitCode).toBeNull();
    const written = await apis[0]!.policies.setPolicy({ resource: ORG, policy: { bindings: [{ role: "roles/owner", members: ["user:after@example.com"] }] } });
    expect((await apis[1]!.policies.getPolicy({ resource: ORG })).etag).toEqual(written.etag);
  }, 120_000);
});
