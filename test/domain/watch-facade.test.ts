// The Watch facade (domain/watch.ts) in process, built as the server builds it (server.ts: a ChangeFeed over the store,
// WatchVisibility over Access and the Authorizer, the schema, WatchStreams) over a real SQLite store: what a watcher
// receives — validation, where a stream starts, history pruned, per-change authorization, batches, filters, the stream
// limits, and the slot and the wake on the feed a stream gives back when it ends. Written for the mutation run of watch.ts (docs/testing.md).
import { create, toBinary } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { DenyPolicySchema } from "../../gen/policy/v1/deny_policy_pb.js";
import {
  ChangeKind,
  WatchResponseSchema,
  type WatchRequest,
  type WatchResponse,
} from "../../gen/policy/v1/watch_service_pb.js";
import type { Caller } from "../../src/domain/access/authorizer.js";
import { ChangeFeed } from "../../src/domain/change-feed.js";
import { updateDenyPolicy } from "../../src/domain/kinds.js";
import { Watch, inSubtree } from "../../src/domain/watch.js";
import type { WatchLimits } from "../../src/domain/watch-streams.js";
import { ServiceError } from "../../src/service-error.js";
import type { ChangeRecord, Store } from "../../src/store/store.js";
import { defaultSchema } from "../helpers/fixtures.js";
import { waitFor } from "../helpers/wait.js";
import { admin, CLOUD, request, ORG, OTHER_CLOUD, OTHER_ORG, PROJECT, ROOT, Reader as WorldReader, WatchWorld, user } from "./watch-facade.js";

const actor = { principal: ROOT };
const ann = user("ann@example.com");

let world: WatchWorld;
let store: Store;
let feed: ChangeFeed;

beforeEach(async () => {
  world = await WatchWorld.make();
  ({ store, feed } = world);
});

afterEach(async () => {
  // A test may follow a feed of its own (another batch size, a failing store).
  if (feed !== world.feed) feed.close();
  await world.close();
});

const facade = (limits?: Partial<WatchLimits>): Watch => world.facade(limits, feed);

/** The streams following the feed now (the poller runs while there is one). */
const followers = () => (feed as unknown as { followers: number }).followers;

/** A stream of `watch` read in the background (test/domain/watch-facade.ts). */
class Reader extends WorldReader {
  constructor(watch: Watch, req: WatchRequest, caller: Caller, options?: { read?: boolean; encodedBytes?: boolean }) {
    super(world, watch, req, caller, options);
  }
}

/** Sets a policy and returns the sequence its change got. */
const setPolicy = (resource: string, ...emails: string[]): Promise<number> => world.setPolicy(resource, ...emails);

/** The first message of a stream, or the error its first read fails with. */
async function firstOutcome(watch: Watch, req: WatchRequest, caller: Caller = admin): Promise<WatchResponse | ServiceError> {
  const controller = new AbortController();
  world.opened.push(controller);
  const it = watch.watch(req, caller, controller.signal);
  try {
    const next = await it.next();
    return next.value as WatchResponse;
  } catch (e) {
    if (e instanceof ServiceError) return e;
    throw e;
  } finally {
    await it.return?.();
  }
}

async function refused(watch: Watch, req: WatchRequest, caller: Caller = admin): Promise<ServiceError> {
  const outcome = await firstOutcome(watch, req, caller);
  expect(outcome).toBeInstanceOf(ServiceError);
  return outcome as ServiceError;
}

describe("validation", () => {
  test("every problem of a request is reported at once, each on its field, INVALID_ARGUMENT", async () => {
    const watch = facade();
    const e = await refused(
      watch,
      request({
        afterSequence: -1n,
        subtree: "nonsense",
        resourceTypes: ["project", "galaxy"],
        kinds: [ChangeKind.POLICY_SET, ChangeKind.UNSPECIFIED, 99 as ChangeKind],
        progressInterval: { seconds: 0n, nanos: 99_000_000 },
      }),
    );
    expect(e.code).toBe("invalid_argument");
    expect(e.violations.map((v) => v.field)).toEqual(["after_sequence", "subtree", "resource_types[1]", "kinds[1]", "kinds[2]", "progress_interval"]);
    const byField = Object.fromEntries(e.violations.map((v) => [v.field, v.description]));
    expect(byField["after_sequence"]).toBe("must not be negative");
    expect(byField["resource_types[1]"]).toBe(`unknown type "galaxy"; one of ${[...defaultSchema.types.keys()].join(", ")}`);
    expect(byField["kinds[1]"]).toBe("is not a change kind");
    expect(byField["progress_interval"]).toBe("must be between 100 milliseconds and 1 hour");
    expect(byField["subtree"]).not.toBe("");
    // A refused request takes no slot.
    expect(watch.streams.open).toBe(0);
  });

  test("a progress interval is accepted from 100 ms to one hour, counting seconds and nanoseconds", async () => {
    const watch = facade();
    for (const progressInterval of [
      { seconds: 0n, nanos: 100_000_000 },
      { seconds: 1n, nanos: 0 },
      { seconds: 3600n, nanos: 0 },
      { seconds: 3599n, nanos: 999_999_999 },
    ]) {
      const first = await firstOutcome(watch, request({ progressInterval }));
      expect(first, JSON.stringify(progressInterval, (_, v) => (typeof v === "bigint" ? Number(v) : v))).not.toBeInstanceOf(ServiceError);
    }
    for (const progressInterval of [
      { seconds: 0n, nanos: 99_999_999 },
      { seconds: 3600n, nanos: 1_000_000 },
      { seconds: 0n, nanos: 0 },
    ]) {
      const e = await refused(watch, request({ progressInterval }));
      expect(e.violations).toEqual([{ field: "progress_interval", description: "must be between 100 milliseconds and 1 hour" }]);
    }
  });

  test("a subtree that exists in the schema's form, known types and kinds are accepted; after_sequence 0 is not negative", async () => {
    const watch = facade();
    const first = await firstOutcome(
      watch,
      request({
        afterSequence: 0n,
        subtree: CLOUD,
        resourceTypes: ["project", "cloud"],
        kinds: [ChangeKind.POLICY_SET, ChangeKind.SHARED_POLICY_UNBOUND],
        progressInterval: { seconds: 0n, nanos: 100_000_000 },
      }),
    );
    expect(first).not.toBeInstanceOf(ServiceError);
  });
});

describe("where a stream starts", () => {
  test("from now: a progress at the newest sequence first, then only later changes", async () => {
    const before = await setPolicy(PROJECT, "ann@example.com");
    const r = new Reader(facade(), request(), admin);
    await r.until((x) => x.messages.length > 0, "the first message");
    expect(r.messages[0]!.event.case).toBe("progress");
    expect(r.progress[0]).toBe(before);
    const after = await setPolicy(CLOUD, "ann@example.com");
    await r.until((x) => x.changes.length > 0, "the change");
    expect(r.changes).toEqual([{ seq: after, kind: ChangeKind.POLICY_SET, resource: CLOUD }]);
  });

  test("after a sequence: no progress first, the changes after it in order, none twice", async () => {
    const from = await store.latestSequence();
    const a = await setPolicy(PROJECT, "ann@example.com");
    const b = await setPolicy(CLOUD, "ann@example.com");
    const r = new Reader(facade(), request({ afterSequence: BigInt(from) }), admin);
    await r.until((x) => x.changes.length >= 2, "two changes");
    expect(r.messages[0]!.event.case).toBe("change");
    const c = await setPolicy(ORG, "ann@example.com");
    await r.until((x) => x.changes.length >= 3, "the third change");
    expect(r.changes.map((x) => x.seq)).toEqual([a, b, c]);
    expect(r.changes.map((x) => x.resource)).toEqual([PROJECT, CLOUD, ORG]);
  });

  test("after the newest sequence is accepted (nothing yet); after one ahead of the log is OUT_OF_RANGE", async () => {
    const latest = await store.latestSequence();
    const watch = facade();
    const r = new Reader(watch, request({ afterSequence: BigInt(latest) }), admin);
    const next = await setPolicy(PROJECT, "ann@example.com");
    await r.until((x) => x.changes.length > 0, "the next change");
    expect(r.changes).toEqual([{ seq: next, kind: ChangeKind.POLICY_SET, resource: PROJECT }]);
    const e = await refused(watch, request({ afterSequence: BigInt(next + 1) }));
    expect(e.code).toBe("out_of_range");
    expect(e.message).toContain(`after_sequence ${next + 1} is ahead of the change log (at ${next})`);
  });

  test("after a sequence whose history was pruned: OUT_OF_RANGE naming where the retained log starts", async () => {
    for (let i = 0; i < 4; i++) await setPolicy(PROJECT, `u${i}@example.com`);
    await store.pruneChanges({ keepLast: 2 });
    const latest = await store.latestSequence();
    const oldest = latest - 1;
    const watch = facade();
    const e = await refused(watch, request({ afterSequence: 1n }));
    expect(e.code).toBe("out_of_range");
    expect(e.message).toContain(`after_sequence 1 is older than the retained change log, which starts at sequence ${oldest}`);
    expect(e.message).toContain(`watch with after_sequence ${oldest - 1} or later`);
    // Resuming where it says works, and delivers the retained rows.
    const r = new Reader(watch, request({ afterSequence: BigInt(oldest - 1) }), admin);
    await r.until((x) => x.changes.length >= 2, "the retained rows");
    expect(r.changes.map((x) => x.seq)).toEqual([oldest, latest]);
  });

  test("a store that fails while reading history fails the stream with that error, not OUT_OF_RANGE", async () => {
    await setPolicy(PROJECT, "ann@example.com");
    const broken = new Error("disk on fire");
    const failing: Store = Object.create(store, {
      readChanges: { value: async (q: { afterSeq?: number }) => (q.afterSeq === 1 ? Promise.reject(broken) : store.readChanges(q as never)) },
    });
    feed = new ChangeFeed(failing, { pollMs: 5 });
    const r = new Reader(facade(), request({ afterSequence: 1n }), admin);
    await waitFor(() => r.ended, "the stream to end");
    expect(r.error).toBe(broken);
  });

  test("a server shutting down (the feed closed) ends streams UNAVAILABLE, naming where to resume", async () => {
    const r = new Reader(facade(), request({ progressInterval: { seconds: 3600n, nanos: 0 } }), admin);
    await r.until((x) => x.messages.length > 0, "the first message");
    const seq = await setPolicy(PROJECT, "ann@example.com");
    await r.until((x) => x.changes.length > 0, "the change");
    feed.close();
    const e = await r.failure();
    expect(e.code).toBe("unavailable");
    expect(e.message).toContain(`watch again with after_sequence ${seq}`);
    // Nothing between the change and the end: no progress was due.
    expect(r.messages.at(-1)!.event.case).toBe("change");
  });

  test("a history longer than one read is delivered without waiting for a new change or a progress", async () => {
    const from = await store.latestSequence();
    const seqs: number[] = [];
    for (let i = 0; i < 7; i++) seqs.push(await setPolicy(PROJECT, `u${i}@example.com`));
    feed = new ChangeFeed(store, { pollMs: 5, batchSize: 2 });
    const r = new Reader(facade(), request({ afterSequence: BigInt(from), progressInterval: { seconds: 3600n, nanos: 0 } }), admin);
    await r.until((x) => x.changes.length >= seqs.length, "every change of the history");
    expect(r.changes.map((c) => c.seq)).toEqual(seqs);
    const batched = new Reader(facade(), request({ afterSequence: BigInt(from), batch: true, progressInterval: { seconds: 3600n, nanos: 0 } }), admin);
    await batched.until((x) => x.changes.length >= seqs.length, "every change of the history, in batches");
    expect(batched.messages.map((m) => (m.event.value as { changes: unknown[] }).changes.length)).toEqual([2, 2, 2, 1]);
    expect(batched.changes.map((c) => c.seq)).toEqual(seqs);
  });
});

describe("per-change authorization", () => {
  test("a watcher receives the changes it may read: not others', not those a deny rule hides; an administrator all", async () => {
    await setPolicy(ORG, "ann@example.com");
    await updateDenyPolicy(
      store,
      CLOUD,
      () => create(DenyPolicySchema, { rules: [{ deniedPrincipals: ["user:ann@example.com"], deniedPermissions: ["projects.getPolicy"] }] }),
      actor,
    );
    const watch = facade();
    const from = await store.latestSequence();
    const annR = new Reader(watch, request({ afterSequence: BigInt(from) }), ann);
    const benR = new Reader(watch, request({ afterSequence: BigInt(from), progressInterval: { seconds: 0n, nanos: 100_000_000 } }), user("ben@example.com"));
    const rootR = new Reader(watch, request({ afterSequence: BigInt(from) }), admin);
    const onProject = await setPolicy(PROJECT, "zed@example.com");
    const onCloud = await setPolicy(CLOUD, "zed@example.com");
    const elsewhere = await setPolicy(OTHER_CLOUD, "zed@example.com");
    const last = await setPolicy(ORG, "ann@example.com", "zed@example.com");
    await rootR.until((x) => x.changes.length >= 4, "the administrator's four changes");
    await annR.until((x) => x.changes.some((c) => c.seq === last), "Ann's last change");
    // Ben may read nothing: he gets progress, never a change.
    await benR.until((x) => x.progress.length > 0, "Ben's progress");
    expect(rootR.changes.map((c) => c.seq)).toEqual([onProject, onCloud, elsewhere, last]);
    // The cloud's deny rule refuses Ann the project's policy (not the cloud's own); the other organization is not hers.
    expect(annR.changes.map((c) => c.seq)).toEqual([onCloud, last]);
    expect(benR.changes).toEqual([]);
  });

  test("a change is judged by the policy when it is delivered: a watcher who gains access later receives what follows", async () => {
    const watch = facade();
    const r = new Reader(watch, request({ progressInterval: { seconds: 0n, nanos: 100_000_000 } }), ann);
    await r.until((x) => x.progress.length > 0, "the first progress");
    const hidden = await setPolicy(PROJECT, "zed@example.com");
    await r.until((x) => x.progress.some((p) => p >= hidden), "a progress past the hidden change");
    const granted = await setPolicy(ORG, "ann@example.com");
    const shown = await setPolicy(PROJECT, "zed@example.com", "yan@example.com");
    await r.until((x) => x.changes.some((c) => c.seq === shown), "the change after the grant");
    expect(r.changes.map((c) => c.seq)).toEqual([granted, shown]);
  });
});

describe("batches", () => {
  test("a batch carries the matching changes of a read, and the last sequence it considered", async () => {
    await setPolicy(ORG, "ann@example.com");
    const from = await store.latestSequence();
    const a = await setPolicy(PROJECT, "x@example.com"); // Ann sees it (owner of the organization)
    const hidden1 = await setPolicy(OTHER_CLOUD, "x@example.com"); // not hers
    const b = await setPolicy(CLOUD, "x@example.com");
    const hidden2 = await setPolicy(OTHER_ORG, "x@example.com");
    const watch = facade();
    const r = new Reader(watch, request({ afterSequence: BigInt(from), batch: true }), ann);
    await r.until((x) => x.changes.length >= 2, "the batch");
    expect(r.messages[0]!.event.case).toBe("batch");
    const batch = r.messages[0]!.event.value as { changes: { sequence: bigint }[]; lastSequence: bigint };
    expect(batch.changes.map((c) => Number(c.sequence))).toEqual([a, b]);
    expect(Number(batch.lastSequence)).toBe(hidden2);
    expect(hidden1).toBeLessThan(b);

    // First change hidden, the rest shown; and every change shown: the batch holds exactly those.
    const from2 = await store.latestSequence();
    const hidden3 = await setPolicy(OTHER_ORG, "y@example.com");
    const c = await setPolicy(PROJECT, "y@example.com");
    const d = await setPolicy(PROJECT, "z@example.com");
    // The feed reads the log on its turns: a new stream's first read holds what the feed has read, so wait until the
    // live stream has received d (the feed has read it) before the second stream starts.
    await r.until((x) => x.changes.some((change) => change.seq === d), "the first stream's d");
    const r2 = new Reader(watch, request({ afterSequence: BigInt(from2), batch: true }), ann);
    await r2.until((x) => x.changes.length >= 2, "the second batch");
    const batch2 = r2.messages[0]!.event.value as { changes: { sequence: bigint }[]; lastSequence: bigint };
    expect(batch2.changes.map((x) => Number(x.sequence))).toEqual([c, d]);
    expect(Number(batch2.lastSequence)).toBe(d);
    expect(hidden3).toBeLessThan(c);

    const r3 = new Reader(watch, request({ afterSequence: BigInt(from2 + 1), batch: true }), admin);
    await r3.until((x) => x.changes.length >= 2, "the third batch");
    const batch3 = r3.messages[0]!.event.value as { changes: { sequence: bigint }[]; lastSequence: bigint };
    expect(batch3.changes.map((x) => Number(x.sequence))).toEqual([c, d]);
    expect(Number(batch3.lastSequence)).toBe(d);
  });

  test("a batched stream whose read matches nothing sends no batch, but progress past it", async () => {
    const from = await store.latestSequence();
    const hidden = await setPolicy(OTHER_ORG, "y@example.com");
    const r = new Reader(facade(), request({ afterSequence: BigInt(from), batch: true, progressInterval: { seconds: 0n, nanos: 100_000_000 } }), ann);
    await r.until((x) => x.progress.some((p) => p >= hidden), "a progress past the hidden change");
    expect(r.messages.every((m) => m.event.case === "progress")).toBe(true);
  });
});

describe("filters", () => {
  test("a subtree: changes beneath it, and a move out of it; not elsewhere", async () => {
    const from = await store.latestSequence();
    const inProject = await setPolicy(PROJECT, "x@example.com");
    await setPolicy(ORG, "x@example.com");
    await setPolicy(OTHER_CLOUD, "x@example.com");
    await store.updateResource(PROJECT, () => ({ parent: OTHER_CLOUD }), actor);
    const moved = await store.latestSequence();
    const after = await setPolicy(PROJECT, "y@example.com"); // now beneath the other cloud
    const onCloud = await setPolicy(CLOUD, "y@example.com");
    const r = new Reader(facade(), request({ afterSequence: BigInt(from), subtree: CLOUD }), admin);
    await r.until((x) => x.changes.some((c) => c.seq === onCloud), "the cloud's change");
    expect(r.changes).toEqual([
      { seq: inProject, kind: ChangeKind.POLICY_SET, resource: PROJECT },
      { seq: moved, kind: ChangeKind.RESOURCE_MOVED, resource: PROJECT },
      { seq: onCloud, kind: ChangeKind.POLICY_SET, resource: CLOUD },
    ]);
    expect(after).toBeLessThan(onCloud);
  });

  test("inSubtree: the whole tree for an empty subtree; the lineage after or before the change", () => {
    const row = { lineage: [PROJECT, CLOUD, ORG], previousLineage: undefined } as unknown as ChangeRecord;
    expect(inSubtree(row, "")).toBe(true);
    expect(inSubtree(row, CLOUD)).toBe(true);
    expect(inSubtree(row, OTHER_CLOUD)).toBe(false);
    const move = { lineage: [PROJECT, OTHER_CLOUD, OTHER_ORG], previousLineage: [PROJECT, CLOUD, ORG] } as unknown as ChangeRecord;
    expect(inSubtree(move, CLOUD)).toBe(true);
    expect(inSubtree(move, OTHER_ORG)).toBe(true);
    expect(inSubtree(move, "organizations/third")).toBe(false);
  });

  test("resource types and kinds: only the changes of those", async () => {
    const from = await store.latestSequence();
    const projectPolicy = await setPolicy(PROJECT, "x@example.com");
    const cloudPolicy = await setPolicy(CLOUD, "x@example.com");
    await store.updateResource(PROJECT, () => ({ displayName: "renamed" }), actor);
    const renamed = await store.latestSequence();
    const last = await setPolicy(ORG, "x@example.com");
    const watch = facade();
    const byType = new Reader(watch, request({ afterSequence: BigInt(from), resourceTypes: ["project"] }), admin);
    const byKind = new Reader(watch, request({ afterSequence: BigInt(from), kinds: [ChangeKind.POLICY_SET] }), admin);
    const both = new Reader(watch, request({ afterSequence: BigInt(from), resourceTypes: ["project"], kinds: [ChangeKind.RESOURCE_UPDATED] }), admin);
    await byType.until((x) => x.changes.length >= 2, "the project's changes");
    await byKind.until((x) => x.changes.length >= 3, "the policy changes");
    await both.until((x) => x.changes.length >= 1, "the rename");
    expect(byType.changes.map((c) => c.seq)).toEqual([projectPolicy, renamed]);
    expect(byKind.changes.map((c) => c.seq)).toEqual([projectPolicy, cloudPolicy, last]);
    expect(both.changes).toEqual([{ seq: renamed, kind: ChangeKind.RESOURCE_UPDATED, resource: PROJECT }]);
  });

  test("with every change filtered out, progress still moves past them at the requested interval", async () => {
    const r = new Reader(facade(), request({ resourceTypes: ["organization"], progressInterval: { seconds: 0n, nanos: 100_000_000 } }), admin);
    await r.until((x) => x.progress.length > 0, "the first progress");
    const seq = await setPolicy(PROJECT, "x@example.com");
    await r.until((x) => x.progress.some((p) => p >= seq), "a progress past the filtered change");
    expect(r.changes).toEqual([]);
    // Progress never goes back.
    expect([...r.progress].sort((x, y) => x - y)).toEqual(r.progress);
  });
});

describe("stream limits and slots", () => {
  test("past the limit per caller, and in all, a stream is RESOURCE_EXHAUSTED; an ended stream gives its slot back", async () => {
    const watch = facade({ maxStreams: 2, maxStreamsPerCaller: 1 });
    const first = new Reader(watch, request(), ann);
    await first.until((x) => x.messages.length > 0, "Ann's stream to open");
    expect(watch.streams.open).toBe(1);
    const again = await refused(watch, request(), ann);
    expect(again.code).toBe("resource_exhausted");
    expect(again.message).toContain("user:ann@example.com has 1 Watch streams open");
    const ben = new Reader(watch, request(), user("ben@example.com"));
    await ben.until((x) => x.messages.length > 0, "Ben's stream to open");
    const cat = await refused(watch, request(), user("cat@example.com"));
    expect(cat.code).toBe("resource_exhausted");
    expect(cat.message).toContain("this server has 2 Watch streams open");

    // Ended by its reader (return): the slot is free again.
    await first.iterator.return!();
    await waitFor(() => watch.streams.open === 1, "Ann's slot to be given back");
    const annAgain = new Reader(watch, request(), ann);
    await annAgain.until((x) => x.messages.length > 0, "Ann's new stream to open");
    expect(watch.streams.open).toBe(2);

    // Ended by the client going away (abort).
    annAgain.controller.abort();
    await waitFor(() => watch.streams.open === 1, "the aborted stream's slot to be given back");

    // Ended by the reader throwing into it.
    const catR = new Reader(watch, request(), user("cat@example.com"), { read: false });
    expect((await catR.iterator.next()).value?.event.case).toBe("progress");
    expect(watch.streams.open).toBe(2);
    await catR.iterator.throw!(new Error("reader gave up")).catch(() => undefined);
    await waitFor(() => watch.streams.open === 1, "the thrown-into stream's slot to be given back");

    // Each open stream follows the feed; one that ended lets go of it (its poller stops when nobody watches).
    await waitFor(() => followers() === 1, "the ended streams to let go of the feed");

    // Ended by the server (the feed closed).
    feed.close();
    await ben.failure();
    await waitFor(() => watch.streams.open === 0, "every slot given back");
    await waitFor(() => followers() === 0, "every stream to let go of the feed");
  });

  test("a stream aborted before its first read admits nothing and ends", async () => {
    const watch = facade({ maxStreamsPerCaller: 1 });
    const controller = new AbortController();
    controller.abort();
    const it = watch.watch(request(), ann, controller.signal);
    expect((await it.next()).done).toBe(true);
    expect(watch.streams.open).toBe(0);
    // Ann's one slot is still hers to use.
    const r = new Reader(watch, request(), ann);
    await r.until((x) => x.messages.length > 0, "Ann's stream to open");
    expect(watch.streams.open).toBe(1);
  });

  test("an idle stream waits on the feed with one wake; a stream that ends while it waits leaves none behind", async () => {
    const watch = facade();
    /** The wakes the feed holds now: one per stream waiting for its next read. */
    const sleepers = () => (feed as unknown as { sleepers: Set<unknown> }).sleepers.size;
    const idle = { progressInterval: { seconds: 3600n, nanos: 0 } };
    const first = new Reader(watch, request(idle), ann);
    const second = new Reader(watch, request(idle), user("ben@example.com"));
    const third = new Reader(watch, request(idle), admin);
    for (const r of [first, second, third]) await r.until((x) => x.messages.length > 0, "the stream's first progress");
    await waitFor(() => sleepers() === 3, "each stream to wait on the feed");
    // Ended by the client going away, then by the reader (return), while waiting.
    first.controller.abort();
    await waitFor(() => watch.streams.open === 2, "the aborted stream to end");
    expect(sleepers()).toBe(2);
    await second.iterator.return!();
    await waitFor(() => watch.streams.open === 1, "the returned stream to end");
    expect(sleepers()).toBe(1);
    // The one left is still woken by the next change, and waits again with one wake.
    const seq = await setPolicy(PROJECT, "x@example.com");
    await third.until((x) => x.changes.some((c) => c.seq === seq), "the change");
    await waitFor(() => sleepers() === 1, "the stream to wait again");
    third.controller.abort();
    await waitFor(() => watch.streams.open === 0, "the last stream to end");
    expect(sleepers()).toBe(0);
  });

  test("a live reader that leaves more than its buffer unsent is cut off RESOURCE_EXHAUSTED, naming where to resume", async () => {
    const watch = facade({ streamBufferBytes: 2048 });
    const r = new Reader(watch, request(), admin, { read: false });
    const first = await r.iterator.next();
    expect(first.value?.event.case).toBe("progress");
    // Writes while nobody reads the stream: far more than 2 KiB of changes.
    let last = 0;
    for (let n = 0; n < 40; n++) last = await setPolicy(PROJECT, `u${n}@example.com`, "a-rather-long-member-name-to-fill-the-buffer@example.com");
    await waitFor(() => watch.streams.cutOff > 0, `the stream to be cut off (feed at ${feed.latest} of ${last})`);
    expect(watch.streams.cutOff).toBe(1);
    void r.drain();
    const e = await r.failure();
    expect(e.code).toBe("resource_exhausted");
    expect(e.message).toContain("more than 2 KiB waited to be sent");
    // The position named is the last change sent: resuming after it continues where the stream stopped.
    const lastSent = r.changes.at(-1)!.seq;
    expect(e.message).toContain(`watch again with after_sequence ${lastSent} (the last sequence sent)`);
    expect(r.changes.map((c) => c.seq)).toEqual(r.changes.map((_, i) => r.changes[0]!.seq + i));
    await waitFor(() => watch.streams.open === 0, "the cut-off stream's slot to be given back");
  });

  test("history is read at the reader's pace: a slow reader of old changes is not cut off", async () => {
    const from = await store.latestSequence();
    const seqs: number[] = [];
    for (let i = 0; i < 30; i++) seqs.push(await setPolicy(PROJECT, `u${i}@example.com`, "a-rather-long-member-name-to-fill-the-buffer@example.com"));
    const watch = facade({ streamBufferBytes: 2048 });
    const r = new Reader(watch, request({ afterSequence: BigInt(from) }), admin, { read: false });
    const got: number[] = [];
    while (got.length < seqs.length) {
      const next = await r.iterator.next();
      const m = next.value as WatchResponse;
      if (m.event.case === "change") got.push(Number(m.event.value.sequence));
    }
    expect(got).toEqual(seqs);
    expect(watch.streams.cutOff).toBe(0);
  });
});

describe("encoded bytes", () => {
  test("with encodedBytes a shared change goes out as its encoding made once, the same bytes as the message", async () => {
    const from = await store.latestSequence();
    await setPolicy(PROJECT, "x@example.com");
    const watch = facade();
    const plain = new Reader(watch, request({ afterSequence: BigInt(from) }), admin);
    const encoded = new Reader(watch, request({ afterSequence: BigInt(from) }), admin, { encodedBytes: true });
    await plain.until((x) => x.messages.length > 0, "the plain change");
    await encoded.until((x) => x.messages.length > 0, "the encoded change");
    expect(plain.messages[0]!.event.case).toBe("change");
    // The carrier holds the change as unknown fields: what a transport writes is the change's bytes.
    expect(encoded.messages[0]!.event.case).toBeUndefined();
    expect(toBinary(WatchResponseSchema, encoded.messages[0]!)).toEqual(toBinary(WatchResponseSchema, plain.messages[0]!));
  });
});
