// PostgreSQL stopped abruptly (`pg_ctl stop -m immediate`: every backend killed mid-statement, crash recovery at the
// next start) under writes, reads, Watch streams and health watches on several replicas: every server process stays
// up, the calls meanwhile are UNAVAILABLE (within their deadline), health goes NOT_SERVING and back to SERVING by
// itself once PostgreSQL is back, and every write acknowledged before the stop is still there. It runs on a private
// cluster of its own (test/helpers/private-postgres.ts): the machine's PostgreSQL is never touched.
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { WRITE_LOCK } from "../../src/store/postgres/database.js";
import { spawnServer, type ChildServer } from "../helpers/child-server.js";
import { apiClients, type ApiClients } from "../helpers/clients.js";
import { expectCode, retryWhileUnavailable } from "../helpers/call-failures.js";
import { Status, watchHealth } from "../helpers/health-watch.js";
import {
  advisoryLockWaiters,
  holdAdvisoryLock,
  privatePostgresAvailable,
  startPrivateCluster,
  type PrivateCluster,
} from "../helpers/private-postgres.js";
import { follow, watchClients, type Follower } from "../helpers/watch.js";
import { pause, waitFor } from "../helpers/wait.js";

const REPLICAS = 3;
const ORG = "organizations/outage";
/** Every call's deadline: an outage must answer UNAVAILABLE well before it (the statement timeout is 2 s). */
const DEADLINE_MS = 10_000;
const codeOf = (e: unknown) => ConnectError.from(e).code;

describe.runIf(privatePostgresAvailable())("PostgreSQL stopped abruptly under load on several replicas", () => {
  let cluster: PrivateCluster;
  let url: string;
  let replicas: ChildServer[] = [];
  let apis: ApiClients[] = [];
  /** Clients without a deadline, for the streams that last the whole test. */
  let streams: ApiClients[] = [];

  beforeAll(async () => {
    cluster = await startPrivateCluster();
    url = await cluster.createDatabase();
    // One after another: starting is CPU-bound, and this machine's two cores are shared.
    for (let i = 0; i < REPLICAS; i++) {
      replicas.push(await spawnServer(url, ["--db-pool", "4", "--db-statement-timeout-ms", "2000", "--log-level", "warn"]));
    }
    apis = replicas.map((replica) => apiClients(replica.url, { timeoutMs: DEADLINE_MS }));
    streams = replicas.map((replica) => apiClients(replica.url));
    await apis[0]!.resources.createResource({ resource: { name: ORG } });
  }, 120_000);
  afterAll(async () => {
    for (const replica of replicas) await replica.stop("SIGKILL");
    await cluster?.destroy();
  });

  test("every process stays up, calls are UNAVAILABLE meanwhile, all serve again and no acknowledged write is lost", async () => {
    const failures = new Map<string, number>();
    /** name -> etag of its policy, for every write acknowledged (resource created, then its policy set). */
    const acknowledged = new Map<string, Uint8Array | undefined>();
    const counts = apis.map(() => 0);
    let loading = true;
    const load = apis.map(async (api, i) => {
      for (let n = 0; loading; n++) {
        const name = `projects/w${i}_${n}`;
        let step = "createResource";
        try {
          await api.resources.createResource({ resource: { name, parent: ORG } });
          acknowledged.set(name, undefined);
          step = "setPolicy";
          const set = await api.policies.setPolicy({ resource: name, policy: { bindings: [{ role: "roles/readonly", members: [`user:u${n}@example.com`] }] } });
          acknowledged.set(name, set.etag);
          step = "getPolicy";
          await api.policies.getPolicy({ resource: ORG });
          step = "listResources";
          await api.resources.listResources({ parent: ORG, pageSize: 5 });
          counts[i]!++;
        } catch (e) {
          const failure = `${step}: ${Code[codeOf(e)]}`;
          failures.set(failure, (failures.get(failure) ?? 0) + 1);
          // Back off a little before the next attempt, as a client retrying UNAVAILABLE does.
          await pause(50);
        }
      }
    });
    const watches = streams.map((api) => follow(watchClients(api.transport).watch, { subtree: ORG }));
    const healths = streams.map((api) => watchHealth(api.health));
    // A replica that exits fails the test at once, with what it printed.
    const exit = Promise.race(
      replicas.map((replica, i) =>
        replica.exited.then((code) => {
          throw new Error(`replica ${i} exited (${code}):\n${replica.stderr().slice(-2000)}`);
        }),
      ),
    );
    exit.catch(() => undefined);
    const alive = <T>(step: Promise<T>): Promise<T> => Promise.race([step, exit]);
    try {
      await alive(Promise.all(healths.map((health) => health.reaches(Status.SERVING))));
      // Every replica has written under load before the stop.
      await alive(waitFor(() => counts.every((count) => count >= 3), "three served writes through every replica"));
      const before = healths.map((health) => health.seen.length);
      // At the stop, a write of every replica is inside its transaction, its connection checked out: the test's own
      // session holds the write lock they all wait for.
      await holdAdvisoryLock(url, WRITE_LOCK);
      await alive(advisoryLockWaiters(url, REPLICAS));
      await cluster.stop("immediate");

      await alive(Promise.all(apis.map(async (api, i) => {
        await healths[i]!.reaches(Status.NOT_SERVING, before[i]);
        expect((await api.health.check({ service: "" })).status).toBe(Status.NOT_SERVING);
        // Each path to the database: reads through the cache's freshness check, a plain query, the write queue, a
        // new Watch stream (the change feed's first read).
        await expectCode(api.policies.getPolicy({ resource: ORG }), Code.Unavailable);
        await expectCode(api.resources.listResources({ parent: ORG }), Code.Unavailable);
        await expectCode(api.policies.setPolicy({ resource: ORG, policy: { bindings: [] } }), Code.Unavailable);
        await expectCode(api.resources.createResource({ resource: { name: `projects/down${i}`, parent: ORG } }), Code.Unavailable);
        // The gRPC port (grpc-js) answers the same.
        const grpcPort = apiClients(`http://${replicas[i]!.grpcAddress}`, { timeoutMs: DEADLINE_MS });
        await expectCode(grpcPort.policies.getPolicy({ resource: ORG }), Code.Unavailable);
        await expectCode(grpcPort.policies.setPolicy({ resource: ORG, policy: { bindings: [] } }), Code.Unavailable);
        // A Prometheus scrape still answers (the database's own figures are left out), and says why calls fail.
        const scrape = await fetch(`${replicas[i]!.url}/metrics`);
        expect(scrape.status).toBe(200);
        expect(await scrape.text()).toMatch(/policy_store_failures_total\{kind="unavailable"\} [1-9]/);
        const late = follow(watchClients(api.transport).watch, { subtree: ORG, afterSequence: 0n });
        await late.ended;
        expect(Code[codeOf(late.error())]).toBe(Code[Code.Unavailable]);
      })));
      const down = healths.map((health) => health.seen.length);
      await cluster.start();

      await alive(Promise.all(apis.map(async (api, i) => {
        await healths[i]!.reaches(Status.SERVING, down[i]);
        await retryWhileUnavailable(() => api.policies.getPolicy({ resource: ORG }));
      })));
      loading = false;
      await Promise.all(load);

      for (const replica of replicas) expect([replica.process.exitCode, replica.process.signalCode]).toEqual([null, null]);
      expect([...failures.keys()].filter((failure) => !failure.endsWith(`: ${Code[Code.Unavailable]}`))).toEqual([]);
      // Every acknowledged write, read back on every replica.
      for (const api of apis) {
        for (const [name, etag] of acknowledged) {
          expect((await api.resources.getResource({ name })).name).toBe(name);
          if (etag) expect((await api.policies.getPolicy({ resource: name })).etag, name).toEqual(etag);
        }
      }
      // A write after the outage reaches every Watch stream opened before it (resumed where it ended, if it did).
      const after = await apis[0]!.resources.createResource({ resource: { name: "projects/after", parent: ORG } });
      expect(after.name).toBe("projects/after");
      for (const [i, watch] of watches.entries()) {
        let stream: Follower = watch;
        if (watch.error() !== undefined) {
          expect(Code[codeOf(watch.error())]).toBe(Code[Code.Unavailable]);
          stream = follow(watchClients(streams[i]!.transport).watch, { subtree: ORG, afterSequence: BigInt(Math.max(0, ...watch.sequences())) });
        }
        await stream.until((f) => f.changes().some((change) => change.resource === "projects/after"), 30_000);
        // In order, none twice, across the outage.
        const sequences = [...watch.sequences(), ...(stream === watch ? [] : stream.sequences())];
        expect(sequences.every((seq, k) => k === 0 || seq > sequences[k - 1]!), `replica ${i}`).toBe(true);
        if (stream !== watch) await stream.stop();
      }
    } catch (e) {
      // A replica that died (the streams to it fail first) left its reason on stderr.
      const died = replicas.flatMap((replica, i) => (/error/i.test(replica.stderr()) ? [`replica ${i}: ${replica.stderr().slice(-1500)}`] : []));
      throw died.length > 0 ? new Error(`${String(e)}\n${died.join("\n")}`, { cause: e }) : e;
    } finally {
      loading = false;
      await Promise.all(load);
      for (const watch of watches) await watch.stop();
      for (const health of healths) await health.stop();
    }
  }, 180_000);
});
