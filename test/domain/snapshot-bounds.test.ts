// What a snapshot may cost (domain/snapshot.ts): at most `maxConcurrent` at once (RESOURCE_EXHAUSTED past it, and the
// slot is free again once one ends), each within `maxDurationMs` (ABORTED past it); its read transaction is closed
// however the stream ends.
import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, expect, test } from "vitest";
import { SnapshotRequestSchema } from "../../gen/policy/v1/snapshot_service_pb.js";
import { Access } from "../../src/domain/access/access.js";
import { Authorizer, type Caller } from "../../src/domain/access/authorizer.js";
import { Snapshots } from "../../src/domain/snapshot.js";
import { ServiceError } from "../../src/service-error.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { StoreSnapshot } from "../../src/store/store.js";
import { removeDir, tempDir } from "../helpers/temp-dir.js";
import { defaultSchema } from "../helpers/fixtures.js";
import { createResource } from "../../src/store/store.js";

const actor = { principal: "user:root@example.com" };
const ADMIN: Caller = { principal: "user:root@example.com", identities: ["user:root@example.com"] };
let dir: string;
let store: SqliteStore;
let opened: StoreSnapshot[];
let closed: number;

beforeEach(async () => {
  dir = tempDir("snapshot-bounds-");
  store = new SqliteStore(`${dir}/policy.db`);
  await createResource(store, { name: "organizations/o", parent: "", type: "organization", displayName: "" }, actor);
  for (let i = 0; i < 5; i++) await createResource(store, { name: `projects/p${i}`, parent: "organizations/o", type: "project", displayName: "" }, actor);
  opened = [];
  closed = 0;
});

afterEach(async () => {
  await store.close();
  removeDir(dir);
});

function snapshots(limits: { maxConcurrent: number; maxDurationMs: number }): Snapshots {
  const access = new Access(store, defaultSchema);
  const authorizer = new Authorizer(access, defaultSchema, new Set([ADMIN.principal]), true);
  const counted = {
    openSnapshot: async () => {
      const snapshot = await store.openSnapshot();
      opened.push(snapshot);
      const close = snapshot.close.bind(snapshot);
      return Object.assign(Object.create(snapshot) as StoreSnapshot, { sequence: snapshot.sequence, close: async () => (closed++, close()) });
    },
  };
  return new Snapshots(counted, defaultSchema, authorizer, limits);
}

const request = (pageSize = 1) => create(SnapshotRequestSchema, { subtree: "organizations/o", pageSize });

test("past maxConcurrent a snapshot is RESOURCE_EXHAUSTED, and the slot frees when one ends", async () => {
  const bounded = snapshots({ maxConcurrent: 1, maxDurationMs: 60_000 });
  const first = bounded.snapshot(request(), ADMIN);
  await first.next();
  const refused = await bounded.snapshot(request(), ADMIN).next().catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(ServiceError);
  expect((refused as ServiceError).code).toBe("resource_exhausted");
  expect((refused as ServiceError).message).toMatch(/1 snapshots are running on this server \(the limit\)/);
  await first.return(undefined);
  expect(closed).toBe(1);
  const pages = [];
  for await (const page of bounded.snapshot(request(100), ADMIN)) pages.push(page);
  expect(pages.flatMap((p) => p.resources).map((r) => r.resource!.name)).toHaveLength(6);
  expect(closed).toBe(2);
});

test("past maxDurationMs a snapshot is ABORTED and its read is closed", async () => {
  const bounded = snapshots({ maxConcurrent: 4, maxDurationMs: 0 });
  const stream = bounded.snapshot(request(), ADMIN);
  const failure = await (async () => {
    for await (const _ of stream) await new Promise((resolve) => setTimeout(resolve, 5));
  })().catch((e: unknown) => e);
  expect((failure as ServiceError).code).toBe("aborted");
  expect((failure as ServiceError).message).toMatch(/took longer than 0 s \(the limit\)/);
  expect(closed).toBe(1);
});
