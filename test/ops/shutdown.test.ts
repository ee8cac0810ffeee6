// Graceful shutdown of the real process: SIGTERM in the middle of a burst of writes on both ports. Every call either
// completes or fails cleanly (UNAVAILABLE, never a hang: every call has a deadline), the process exits 0 with its WAL
// checkpointed, and after a restart on the same file every acknowledged write is there.
import { Code, ConnectError } from "@connectrpc/connect";
import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { apiClients, expectCode, spawnServer, tempDir, uniqueId, type ChildServer } from "./support.js";

const ORGS = 100;
const BURST = 200;
/** Calls in flight at once during the burst. */
const CONCURRENCY = 8;
/** SIGTERM goes out once this many calls of the burst have completed. */
const SIGNAL_AFTER = 60;

let dir: string;
let child: ChildServer | undefined;
beforeAll(() => {
  dir = tempDir();
});
afterAll(async () => {
  await child?.stop("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

interface Outcome {
  kind: "policy" | "resource";
  /** The organization whose policy is set, or the project created. */
  target: string;
  org: string;
  member: string;
  ok: boolean;
  etag?: Uint8Array;
  code?: Code;
  message?: string;
}

/**
 * A failure that proves the server never processed the call: the connection was refused, or the server refused the
 * HTTP/2 stream after its GOAWAY (REFUSED_STREAM; connect-node reports that one as INTERNAL).
 */
function notProcessed(o: Outcome): boolean {
  return /ECONNREFUSED|REFUSED_STREAM/.test(o.message ?? "");
}

test(
  "SIGTERM during a burst of writes: clean failures only, exit 0, WAL checkpointed, acknowledged writes survive",
  { timeout: 120_000 },
  async () => {
    const db = join(dir, "policy.db");
    child = await spawnServer(db, ["--log-level", "warn"]);
    const ports = [apiClients(child.url, "grpc"), apiClients(`http://${child.grpcAddress}`, "grpc"), apiClients(child.url, "connect-h2")];

    const orgs = Array.from({ length: ORGS }, () => `organizations/${uniqueId("sd")}`);
    for (const org of orgs) await ports[0]!.resources.createResource({ resource: { name: org } });

    // The burst: SetPolicy on a distinct organization, or CreateResource of a new project, through one of the ports.
    const calls = Array.from({ length: BURST }, (_, i) => async (): Promise<Outcome> => {
      const clients = ports[i % ports.length]!;
      const org = orgs[Math.floor(i / 2) % ORGS]!;
      const member = `user:m${i}@example.com`;
      const kind = i % 2 === 0 ? "policy" : "resource";
      const target = kind === "policy" ? org : `projects/${uniqueId("sdp")}`;
      try {
        if (kind === "policy") {
          const policy = await clients.policies.setPolicy({
            resource: org,
            policy: { bindings: [{ role: "roles/owner", members: [member] }] },
          });
          return { kind, target, org, member, ok: true, etag: policy.etag };
        }
        await clients.resources.createResource({ resource: { name: target, parent: org } });
        return { kind, target, org, member, ok: true };
      } catch (e) {
        const error = ConnectError.from(e);
        return { kind, target, org, member, ok: false, code: error.code, message: error.message };
      }
    });

    const outcomes: Outcome[] = [];
    let next = 0;
    let signalled: Promise<unknown> | undefined;
    const worker = async () => {
      while (next < calls.length) {
        const outcome = await calls[next++]!();
        outcomes.push(outcome);
        if (outcomes.length === SIGNAL_AFTER) signalled = child!.stop("SIGTERM", 30_000);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const exit = await (signalled ?? child.stop("SIGTERM"));

    expect(outcomes).toHaveLength(BURST);
    const failures = outcomes.filter((o) => !o.ok);
    for (const f of failures) {
      // Clean: UNAVAILABLE, or a stream the server refused unprocessed. Never a deadline (a hang) or a server error.
      expect(f.code === Code.Unavailable || notProcessed(f), `${Code[f.code!]}: ${f.message}`).toBe(true);
    }
    const acknowledged = outcomes.filter((o) => o.ok);
    expect(acknowledged.length).toBeGreaterThanOrEqual(SIGNAL_AFTER - CONCURRENCY);
    // The calls after the signal could not all have been served: the server went away.
    expect(failures.length).toBeGreaterThan(0);

    expect(exit, child.stderr()).toBe(0);
    const wal = `${db}-wal`;
    expect(!existsSync(wal) || statSync(wal).size === 0, "the -wal file is empty or gone").toBe(true);

    child = await spawnServer(db, ["--log-level", "warn"]);
    const after = apiClients(child.url);
    for (const o of acknowledged) {
      if (o.kind === "policy") {
        const policy = await after.policies.getPolicy({ resource: o.org });
        expect(Buffer.from(policy.etag).toString("base64"), o.org).toBe(Buffer.from(o.etag!).toString("base64"));
        expect(policy.bindings.map((b) => [b.role, b.members])).toEqual([["roles/owner", [o.member]]]);
      } else {
        const resource = await after.resources.getResource({ name: o.target });
        expect(resource.parent).toBe(o.org);
      }
    }
    // A call the server never processed left nothing behind.
    for (const o of failures.filter(notProcessed)) {
      if (o.kind === "policy") {
        const policy = await after.policies.getPolicy({ resource: o.org });
        expect(policy.bindings.flatMap((b) => b.members)).not.toContain(o.member);
      } else {
        await expectCode(after.resources.getResource({ name: o.target }), Code.NotFound);
      }
    }
    expect(await child.stop("SIGINT")).toBe(0);
    child = undefined;
  },
);
