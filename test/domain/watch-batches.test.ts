// Watch's batched streams and shared responses, in process (test/domain/watch-facade.ts): a batched stream that
// takes every change (no filter, a caller who sees everything) sends each read as it is, without a look at each
// change; a filtered stream, a caller who may not read everything and a stream that is not batched never do. A shared
// response is made once: one frozen message for every in-process reader, whose remembered encoding is its bytes; a
// binary reader gets those bytes and its own progress messages as they are. Written for the mutation run of watch.ts
// and shared-response.ts (docs/testing.md, "domain/watch.ts: the Watch facade").
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { ChangeKind, WatchResponseSchema } from "../../gen/policy/v1/watch_service_pb.js";
import { knownEncodingOf } from "../../src/frozen-encoding.js";
import { isDeepFrozen } from "../../src/frozen-value.js";
import { waitFor } from "../helpers/wait.js";
import { CLOUD, ORG, OTHER_CLOUD, OTHER_ORG, PROJECT, Reader, WatchWorld, admin, request, user } from "./watch-facade.js";

let world: WatchWorld;

beforeEach(async () => {
  world = await WatchWorld.make();
});

afterEach(async () => {
  await world.close();
});

const HOUR = { seconds: 3600n, nanos: 0 };

describe("batched streams: only one that takes every change skips the look at each", () => {
  test("a filter, a caller who may not read everything, or no batching: each stream gets only its changes", async () => {
    const ann = user("ann@example.com");
    await world.setPolicy(ORG, "ann@example.com");
    const from = BigInt(await world.store.latestSequence());
    const inProject = await world.setPolicy(PROJECT, "x@example.com");
    const elsewhere = await world.setPolicy(OTHER_CLOUD, "x@example.com");
    const renamed = await world.rename(PROJECT, "renamed");
    const onCloud = await world.setPolicy(CLOUD, "x@example.com");
    const last = await world.setPolicy(OTHER_ORG, "x@example.com");
    const all = [inProject, elsewhere, renamed, onCloud, last];

    const watch = world.facade();
    const batched = (init: { subtree?: string; resourceTypes?: string[]; kinds?: ChangeKind[] }, caller = admin) =>
      new Reader(world, watch, request({ afterSequence: from, batch: true, progressInterval: HOUR, ...init }), caller);
    const everything = batched({});
    const bySubtree = batched({ subtree: CLOUD });
    const byType = batched({ resourceTypes: ["project"] });
    const byKind = batched({ kinds: [ChangeKind.POLICY_SET] });
    const annR = batched({}, ann);
    const single = new Reader(world, watch, request({ afterSequence: from, progressInterval: HOUR }), admin);

    // One read holds the five changes: each stream sends one batch whose last_sequence is the last change considered.
    const expected = [
      [everything, all],
      [bySubtree, [inProject, renamed, onCloud]],
      [byType, [inProject, renamed]],
      [byKind, [inProject, elsewhere, onCloud, last]],
      [annR, [inProject, renamed, onCloud]],
    ] as const;
    for (const [reader, seqs] of expected) {
      await reader.until((x) => x.changes.length >= seqs.length, `${seqs.length} changes`);
      expect(reader.batches).toEqual([{ seqs, last }]);
    }
    // Not batched: a message per change, every one.
    await single.until((x) => x.changes.length >= all.length, "every change");
    expect(single.messages.map((m) => m.event.case)).toEqual(all.map(() => "change"));
    expect(single.changes.map((c) => c.seq)).toEqual(all);
  });

  test("taking every change: each read one batch ending at its last change; progress after it names that change", async () => {
    const r = new Reader(world, world.facade(), request({ batch: true, progressInterval: { seconds: 0n, nanos: 100_000_000 } }), admin);
    const start = (await r.until((x) => x.progress[0], "the first progress"))!;
    const a = await world.setPolicy(PROJECT, "a@example.com");
    const b = await world.setPolicy(CLOUD, "b@example.com");
    await r.until((x) => x.changes.length >= 2, "the two changes");
    // Two writes may land in one read or two: each batch ends at its own last change.
    expect(r.changes.map((c) => c.seq)).toEqual([a, b]);
    for (const batch of r.batches) expect(batch.last).toBe(batch.seqs.at(-1));
    // Caught up and silent: a progress at the last change sent, then the stream reads on (an empty read) and goes on.
    await r.until((x) => x.progress.some((p) => p > start), "a progress after the changes");
    expect(r.progress.filter((p) => p > start)[0]).toBe(b);
    const c = await world.setPolicy(ORG, "c@example.com");
    await r.until((x) => x.changes.length >= 3, "the third change");
    expect(r.batches.at(-1)).toEqual({ seqs: [c], last: c });
    expect(r.error).toBeUndefined();
  });
});

test("history in batches is read at the reader's pace: a reader that pauses gets every batch, in order, not cut off", async () => {
  await world.close();
  world = await WatchWorld.make({ batchSize: 2 });
  const from = await world.store.latestSequence();
  const seqs: number[] = [];
  for (let i = 0; i < 30; i++) seqs.push(await world.setPolicy(PROJECT, `u${i}@example.com`, "a-rather-long-member-name-to-fill-the-buffer@example.com"));
  // The feed's reads of history, counted: one per batch of two changes.
  const feed = world.feed;
  const read = feed.read.bind(feed);
  let reads = 0;
  feed.read = (afterSeq, limit) => {
    reads++;
    return read(afterSeq, limit);
  };
  // Room for one batch of two changes (about 410 bytes), not two.
  const watch = world.facade({ streamBufferBytes: 600 });
  const controller = new AbortController();
  world.opened.push(controller);
  const it = watch.watch(request({ afterSequence: BigInt(from), batch: true, progressInterval: HOUR }), admin, controller.signal);
  const got: number[] = [];
  const take = async () => {
    const { value, done } = await it.next();
    expect(done).toBe(false);
    expect(value!.event.case).toBe("batch");
    const changes = (value!.event.value as { changes: { sequence: bigint }[] }).changes.map((c) => Number(c.sequence));
    // No gap: each batch starts right after the last change received.
    expect(changes[0]).toBe(got.length === 0 ? seqs[0] : got.at(-1)! + 1);
    got.push(...changes);
  };
  await take();
  // The reader pauses: the stream reads on until its buffer is full (a second batch queued, a third waiting for room).
  await waitFor(() => reads >= 3, "the stream to fill its buffer");
  while (got.length < seqs.length) await take();
  expect(got).toEqual(seqs);
  expect(watch.streams.cutOff).toBe(0);
});

describe("shared responses", () => {
  test("in process, a live change or batch is one frozen message for every reader, its remembered encoding its bytes", async () => {
    const watch = world.facade();
    // Live (from now): every stream sends the changes the feed's window holds, the same records.
    const readers = [0, 1].map(() => new Reader(world, watch, request({ progressInterval: HOUR }), admin));
    const batched = [0, 1].map(() => new Reader(world, watch, request({ batch: true, progressInterval: HOUR }), admin));
    for (const r of [...readers, ...batched]) await r.until((x) => x.progress.length > 0, "the first progress");
    const a = await world.setPolicy(PROJECT, "x@example.com");
    const b = await world.setPolicy(CLOUD, "y@example.com");
    for (const r of [...readers, ...batched]) await r.until((x) => x.changes.length >= 2, "both changes");
    expect(readers[0]!.changes.map((c) => c.seq)).toEqual([a, b]);
    expect(batched[0]!.batches.flatMap((x) => x.seqs)).toEqual([a, b]);
    for (const [one, other] of [readers, batched]) {
      const shared = one!.messages.filter((m) => m.event.case !== "progress");
      expect(other!.messages.filter((m) => m.event.case !== "progress").length).toBe(shared.length);
      for (const [i, message] of shared.entries()) {
        // Made once, for every stream that sends it (not a copy per stream).
        expect(other!.messages.filter((m) => m.event.case !== "progress")[i]).toBe(message);
        expect(isDeepFrozen(message)).toBe(true);
        // What a binary transport sends for it without encoding again: exactly its encoding.
        expect(knownEncodingOf(message)).toEqual(toBinary(WatchResponseSchema, message));
      }
    }
  });

  test("with encodedBytes, a stream's own progress goes out as itself, the shared change as its bytes", async () => {
    const r = new Reader(world, world.facade(), request({ progressInterval: HOUR }), admin, { encodedBytes: true });
    await r.until((x) => x.messages.length > 0, "the first message");
    const latest = await world.store.latestSequence();
    expect(r.messages[0]!.event).toEqual({ case: "progress", value: expect.objectContaining({ sequence: BigInt(latest) }) });
    const seq = await world.setPolicy(PROJECT, "x@example.com");
    await r.until((x) => x.messages.length > 1, "the change");
    // A carrier: the change as unknown fields, which a binary codec writes as they are.
    const carrier = r.messages[1]!;
    expect(carrier.event.case).toBeUndefined();
    const bytes = toBinary(WatchResponseSchema, carrier);
    expect(knownEncodingOf(carrier)).toEqual(bytes);
    const change = fromBinary(WatchResponseSchema, bytes);
    expect(change.event.case === "change" && Number(change.event.value.sequence)).toBe(seq);
  });
});
