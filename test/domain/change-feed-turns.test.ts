// When the change feed reads the log and what its streams get, on a fake clock (performance.now and the feed's
// interval are vitest's fake timers, so every assertion about time is exact, whatever the machine's load): a commit of
// this process is read at the first tick a turn allows, another process's at the next poll; one poll reads everything
// new, batch after batch, and a short read ends it; one read at a time; streams are woken at most once per turn; under
// continuous commits turns lengthen (from the second busy turn, doubling up to the busy spacing) and one quiet turn
// makes them short again, while one commit a turn and a spacing given without a busy one keep them short; who
// follows the feed keeps its poller running, and a feed nobody follows starts again at the newest change; a wake
// taken back is never called, and a closed feed wakes a waiter at once; history gone is TooOld; a read never returns
// what the feed has not read yet; the window's bounds at their limit.
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { ChangeFeed, TooOld } from "../../src/domain/change-feed.js";
import type { ChangeQuery, ChangeRecord } from "../../src/store/store.js";

/** A change log in memory: rows of the sizes given, history pruned below `oldest`, reads that may be held back. */
class Log {
  readonly rows: ChangeRecord[] = [];
  readonly sizes = new Map<ChangeRecord, number>();
  /** Page reads (not the probe of the oldest row). */
  reads = 0;
  /** The rows before this sequence are pruned. */
  oldest = 1;
  /** While set, page reads wait for it. */
  gate: Promise<void> | undefined;
  failLatest = false;

  append(...sizes: number[]): void {
    for (const size of sizes) {
      const row = { seq: this.rows.length + 1, resource: `projects/p${this.rows.length + 1}` } as ChangeRecord;
      this.rows.push(row);
      this.sizes.set(row, size);
    }
  }

  async readChanges(query: ChangeQuery): Promise<ChangeRecord[]> {
    if (!("afterSeq" in query)) throw new Error("the feed reads after a sequence only");
    const { afterSeq, limit, maxBytes } = query;
    const probe = maxBytes === undefined && afterSeq === 0 && limit === 1;
    if (!probe) {
      this.reads++;
      if (this.gate) await this.gate;
    }
    const out: ChangeRecord[] = [];
    let bytes = 0;
    for (const row of this.rows.filter((r) => r.seq > afterSeq && r.seq >= this.oldest).slice(0, limit)) {
      const size = this.sizes.get(row)!;
      if (out.length > 0 && maxBytes !== undefined && bytes + size > maxBytes) break;
      out.push(row);
      bytes += size;
    }
    return out;
  }

  async latestSequence(): Promise<number> {
    if (this.failLatest) {
      this.failLatest = false;
      throw new Error("the store is unavailable");
    }
    return this.rows.length;
  }
}

/** A log whose writes are this process's: the store's writtenSequence moves with each. */
class LocalLog extends Log {
  writtenSequence = 0;
  write(...sizes: number[]): void {
    this.append(...sizes);
    this.writtenSequence = this.rows.length;
  }
}

const seqs = (rows: readonly ChangeRecord[]) => rows.map((r) => r.seq);
/** Whether `promise` has settled (once the pending microtasks and I/O callbacks have run: setImmediate is not faked). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}
const at = (ms: number) => vi.advanceTimersByTimeAsync(ms - performance.now());

/** A feed whose window counts each change at its size alone, so that its bounds read in the log's sizes. */
function feedOver(log: Log, options: ConstructorParameters<typeof ChangeFeed>[1] = {}): ChangeFeed {
  return new ChangeFeed(log, { sizeOf: (c) => log.sizes.get(c)!, heldBytesOf: (size) => size, ...options });
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "setTimeout", "clearTimeout", "performance"], now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("when the feed reads the log", () => {
  test("another process's writes are read at the next poll, every pollMs, and not in between", async () => {
    const log = new Log();
    const feed = feedOver(log, { pollMs: 100 });
    const release = await feed.follow();
    log.append(10, 10);
    await at(95);
    expect(feed.latest).toBe(0);
    expect(log.reads).toBe(0);
    await at(100);
    expect(feed.latest).toBe(2);
    expect(log.reads).toBe(1);
    // Nothing new: the next read is the next poll's.
    await at(199);
    expect(log.reads).toBe(1);
    await at(200);
    expect(log.reads).toBe(2);
    log.append(10);
    await at(299);
    expect(feed.latest).toBe(2);
    await at(300);
    expect(feed.latest).toBe(3);
    release();
  });

  test("a commit of this process is read at the first tick once a turn has passed since the last; no commit, no read", async () => {
    const log = new LocalLog();
    const feed = feedOver(log, { pollMs: 60_000, turnMs: 20 });
    const release = await feed.follow();
    await at(1_000);
    expect(log.reads).toBe(0);
    log.write(10);
    await at(1_005);
    expect(feed.latest).toBe(1);
    expect(log.reads).toBe(1);
    // A turn apart: the next commit waits until 20 ms after the last turn (1,005), and is read at that tick.
    log.write(10);
    await at(1_020);
    expect(feed.latest).toBe(1);
    await at(1_025);
    expect(feed.latest).toBe(2);
    expect(log.reads).toBe(2);
    release();
  });

  test("streams are woken at most once per turn, each time with every change since the last", async () => {
    const log = new LocalLog();
    const feed = feedOver(log, { pollMs: 1, turnMs: 100 });
    const release = await feed.follow();
    const wakes: { at: number; latest: number }[] = [];
    const watching = (async () => {
      while (wakes.length < 4) {
        await feed.nextAdvance;
        wakes.push({ at: performance.now(), latest: feed.latest });
      }
    })();
    // A commit every 2 ms for a second.
    for (let t = 2; t <= 1_000; t += 2) {
      await at(t);
      log.write(10);
    }
    await watching;
    expect(wakes.map((w) => w.at)).toEqual([100, 200, 300, 400]);
    // Every commit up to the wake: 50 commits per turn.
    expect(wakes.map((w) => w.latest)).toEqual([49, 99, 149, 199]);
    release();
  });

  test("by default: a poll every 25 ms, a turn of 25 ms, batches of 500; given only pollMs, a turn is a poll", async () => {
    const log = new LocalLog();
    const feed = feedOver(log);
    expect(feed.batchSize).toBe(500);
    const release = await feed.follow();
    // Another process's writes: read at the first poll, in batches of 500.
    log.append(...Array.from({ length: 1_200 }, () => 1));
    await at(20);
    expect(feed.latest).toBe(0);
    await at(25);
    expect(feed.latest).toBe(1_200);
    expect(log.reads).toBe(3);
    // This process's commit: not before a turn (25 ms) has passed since the last.
    log.write(1);
    await at(45);
    expect(feed.latest).toBe(1_200);
    await at(50);
    expect(feed.latest).toBe(1_201);
    release();

    const local = new LocalLog();
    const polled = feedOver(local, { pollMs: 100 });
    const again = await polled.follow();
    await at(1_000);
    local.write(1);
    await at(1_005);
    expect(polled.latest).toBe(1);
    local.write(1);
    await at(1_100);
    expect(polled.latest).toBe(1);
    await at(1_105);
    expect(polled.latest).toBe(2);
    again();
  });

  test("one poll reads everything new, batch after batch; a read shorter than a batch and than half the read bound ends it", async () => {
    const log = new Log();
    const feed = feedOver(log, { pollMs: 100, batchSize: 3, readBytes: 100 });
    const release = await feed.follow();
    log.append(...Array.from({ length: 10 }, () => 10));
    await at(100);
    // Reads of 3, 3, 3 and 1 rows, in the one poll.
    expect(feed.latest).toBe(10);
    expect(log.reads).toBe(4);
    // A read that fills more than half the read bound, with fewer rows than a batch: the poll reads on.
    log.append(30, 30, 30, 30, 30, 30, 30);
    await at(200);
    expect(feed.latest).toBe(17);
    // 90, 90 and 30 bytes: the last is short.
    expect(log.reads).toBe(4 + 3);
    // Exactly half the bound ends the poll too.
    log.append(25, 25);
    await at(300);
    expect(feed.latest).toBe(19);
    expect(log.reads).toBe(8);
    release();
  });

  test("a slow store gets one read at a time", async () => {
    const log = new Log();
    const feed = feedOver(log, { pollMs: 5 });
    const release = await feed.follow();
    let open!: () => void;
    log.gate = new Promise((resolve) => (open = resolve));
    log.append(10);
    await at(500);
    expect(log.reads).toBe(1);
    log.gate = undefined;
    open();
    await at(505);
    expect(feed.latest).toBe(1);
    release();
  });

  test("a store that fails a read is read again at the next poll", async () => {
    const log = new Log();
    const feed = feedOver(log, { pollMs: 100 });
    const release = await feed.follow();
    log.append(10);
    const read = log.readChanges.bind(log);
    log.readChanges = async () => {
      log.readChanges = read;
      throw new Error("the store is unavailable");
    };
    await at(100);
    expect(feed.latest).toBe(0);
    await at(200);
    expect(feed.latest).toBe(1);
    release();
  });
});

/**
 * Drives the clock a millisecond at a time up to `until`, this process committing a change after each millisecond
 * `commits` names, and returns each turn that read something: when, and the spacing it set before the next.
 */
async function turnsUnder(
  feed: ChangeFeed,
  log: LocalLog,
  until: number,
  commits: (t: number) => boolean,
): Promise<{ at: number; spacing: number }[]> {
  const turns: { at: number; spacing: number }[] = [];
  let latest = feed.latest;
  for (let t = Math.floor(performance.now()) + 1; t <= until; t++) {
    await at(t);
    if (feed.latest !== latest) {
      latest = feed.latest;
      turns.push({ at: t, spacing: feed.turnSpacing });
    }
    if (commits(t)) log.write(10);
  }
  return turns;
}

describe("busy turns: the spacing under continuous commits", () => {
  test("turns double from the second busy turn on, up to the busy spacing, and a quiet turn makes them short again", async () => {
    const log = new LocalLog();
    // Batches of 20: a busy turn's 50 commits are read in three, and the spacing is set once per turn.
    const feed = feedOver(log, { pollMs: 60_000, turnMs: 100, busyTurnMs: 400, batchSize: 20 });
    const release = await feed.follow();
    // One commit alone in the first turn; then one every 2 ms (many a turn) until 1,300; then two alone.
    const commits = (t: number) => t === 2 || (t >= 102 && t < 1_300 && t % 2 === 0) || t === 1_800 || t === 1_850;
    expect(await turnsUnder(feed, log, 2_000, commits)).toEqual([
      // The lone commit's turn: not busy.
      { at: 100, spacing: 100 },
      // The first busy turn: not yet longer (one busy turn may be a late tick's).
      { at: 200, spacing: 100 },
      { at: 300, spacing: 200 },
      { at: 500, spacing: 400 },
      { at: 900, spacing: 400 },
      { at: 1_300, spacing: 400 },
      // A commit after the quiet spell: read at the first tick (more than the busy spacing has passed), and turns are
      // short again — the next lone commit waits a turn of 100 ms, not 400.
      { at: 1_805, spacing: 100 },
      { at: 1_905, spacing: 100 },
    ]);
    expect(feed.latest).toBe(log.rows.length);
    release();
  });

  test("one commit a turn, however soon after the last delivery (a writer that waits for each), keeps the turns short", async () => {
    const log = new LocalLog();
    const feed = feedOver(log, { pollMs: 60_000, turnMs: 100, busyTurnMs: 400 });
    const release = await feed.follow();
    let delivered = 0;
    // The first commit at 2 ms; each next one the millisecond its predecessor is read.
    const commits = (t: number) => {
      if (t === 2) return true;
      if (feed.latest === delivered) return false;
      delivered = feed.latest;
      return true;
    };
    expect(await turnsUnder(feed, log, 500, commits)).toEqual([
      { at: 100, spacing: 100 },
      { at: 200, spacing: 100 },
      { at: 300, spacing: 100 },
      { at: 400, spacing: 100 },
      { at: 500, spacing: 100 },
    ]);
    release();
  });

  test("by default turns grow from 25 to 100 ms; given a spacing or a poll interval (and no busy spacing) they keep it", async () => {
    const continuous = (t: number) => t % 2 === 0;
    const log = new LocalLog();
    const feed = feedOver(log);
    const release = await feed.follow();
    expect(await turnsUnder(feed, log, 400, continuous)).toEqual([
      { at: 25, spacing: 25 },
      { at: 50, spacing: 50 },
      { at: 100, spacing: 100 },
      { at: 200, spacing: 100 },
      { at: 300, spacing: 100 },
      { at: 400, spacing: 100 },
    ]);
    release();

    for (const options of [{ turnMs: 30 }, { pollMs: 30 }]) {
      const local = new LocalLog();
      const paced = feedOver(local, options);
      const again = await paced.follow();
      const start = performance.now();
      const turns = await turnsUnder(paced, local, start + 150, continuous);
      // The first commit is read at the first tick (this feed has had no turn yet), then one turn every 30 ms.
      expect(turns, JSON.stringify(options)).toEqual(
        [5, 35, 65, 95, 125].map((ms) => ({ at: start + ms, spacing: 30 })),
      );
      again();
    }
  });
});

describe("who follows the feed", () => {
  test("the poller runs while anyone follows: a release counts once, however often it is called", async () => {
    const log = new Log();
    const feed = feedOver(log, { pollMs: 10 });
    const first = await feed.follow();
    const second = await feed.follow();
    log.append(10);
    await at(10);
    expect(feed.held.changes).toBe(1);
    first();
    first();
    log.append(10);
    await at(20);
    expect(feed.latest).toBe(2);
    second();
    log.append(10);
    await at(100);
    expect(feed.latest).toBe(2);
    expect(log.reads).toBe(2);
  });

  test("a second follower shares the window; once nobody follows, the next one starts a new window at the newest change", async () => {
    const log = new Log();
    const feed = feedOver(log, { pollMs: 10 });
    log.append(10, 10);
    const first = await feed.follow();
    expect(feed.holds(2)).toBe(true);
    expect(feed.holds(1)).toBe(false);
    log.append(10);
    await at(10);
    expect(feed.held).toEqual({ changes: 1, bytes: 10 });
    const second = await feed.follow();
    expect(feed.held).toEqual({ changes: 1, bytes: 10 });
    first();
    second();
    log.append(10);
    const third = await feed.follow();
    expect(feed.held).toEqual({ changes: 0, bytes: 0 });
    expect(feed.latest).toBe(4);
    expect(feed.holds(3)).toBe(false);
    expect(await feed.read(4, 10)).toEqual([]);
    third();
  });

  test("a follow that fails (the store is unavailable) leaves no follower behind: the next one starts the feed", async () => {
    const log = new Log();
    const feed = feedOver(log, { pollMs: 10 });
    log.failLatest = true;
    await expect(feed.follow()).rejects.toThrow("the store is unavailable");
    log.append(10);
    const release = await feed.follow();
    expect(feed.latest).toBe(1);
    log.append(10);
    await at(10);
    expect(feed.latest).toBe(2);
    release();
    log.append(10);
    await at(100);
    expect(feed.latest).toBe(2);
  });

  test("rows of a read started before the feed restarted are not the new window's", async () => {
    const log = new Log();
    const feed = feedOver(log, { pollMs: 10 });
    const first = await feed.follow();
    let open!: () => void;
    log.gate = new Promise((resolve) => (open = resolve));
    log.append(10);
    await at(10);
    expect(log.reads).toBe(1);
    first();
    log.append(10, 10);
    const second = await feed.follow();
    expect(feed.latest).toBe(3);
    // The held-back read (after sequence 0) returns rows 1–3: not next for a window that starts at 3.
    log.gate = undefined;
    open();
    await at(11);
    expect(feed.held).toEqual({ changes: 0, bytes: 0 });
    expect(feed.latest).toBe(3);
    log.append(10);
    await at(30);
    expect(seqs(await feed.read(3, 10))).toEqual([4]);
    second();
  });

  test("closing stops the poller for good and wakes every waiting stream", async () => {
    const log = new Log();
    const feed = feedOver(log, { pollMs: 10 });
    const release = await feed.follow();
    const waiting = feed.nextAdvance;
    expect(await settled(waiting)).toBe(false);
    feed.close();
    expect(feed.closed).toBe(true);
    expect(await settled(waiting)).toBe(true);
    log.append(10);
    await at(100);
    expect(log.reads).toBe(0);
    expect(feed.latest).toBe(0);
    release();
  });

  test("a stream that waits on a closed feed is woken at once, not left waiting for a read that never comes", async () => {
    const log = new Log();
    const feed = feedOver(log, { pollMs: 10 });
    const release = await feed.follow();
    feed.close();
    let woken = 0;
    feed.whenAdvanced(() => woken++);
    expect(woken).toBe(1);
    expect(await settled(feed.nextAdvance)).toBe(true);
    release();
  });

  test("a wake taken back is not called (a stream stopped while waiting leaves nothing with the feed); the others are, once each", async () => {
    const log = new Log();
    const feed = feedOver(log, { pollMs: 10 });
    const release = await feed.follow();
    const woken: string[] = [];
    const stopped = () => woken.push("stopped");
    feed.whenAdvanced(stopped);
    feed.whenAdvanced(() => woken.push("waiting"));
    feed.forget(stopped);
    log.append(10);
    await at(10);
    expect(feed.latest).toBe(1);
    expect(woken).toEqual(["waiting"]);
    // Each wake is called once: the next read wakes only who asked again.
    log.append(10);
    await at(20);
    expect(feed.latest).toBe(2);
    expect(woken).toEqual(["waiting"]);
    // Nor does a taken-back wake come back at close.
    feed.whenAdvanced(stopped);
    feed.forget(stopped);
    feed.close();
    expect(woken).toEqual(["waiting"]);
    release();
  });
});

describe("what a read returns", () => {
  test("history the store no longer has is TooOld, naming the oldest sequence it has", async () => {
    const log = new Log();
    log.append(10, 10, 10, 10, 10);
    log.oldest = 3;
    const feed = feedOver(log, { pollMs: 10 });
    const release = await feed.follow();
    const error = await feed.read(1, 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TooOld);
    expect(error).toMatchObject({ oldest: 3, message: "the change log starts at sequence 3" });
    expect(seqs(await feed.read(2, 10))).toEqual([3, 4, 5]);
    release();
  });

  test("a read of the store never returns what the feed has not read yet", async () => {
    const log = new Log();
    log.append(10, 10);
    const feed = feedOver(log, { pollMs: 100 });
    const release = await feed.follow();
    // Committed (by another process) but not yet polled: not in any stream's read before the window has it.
    log.append(10, 10);
    expect(seqs(await feed.read(0, 10))).toEqual([1, 2]);
    expect(await feed.read(2, 10)).toEqual([]);
    await at(100);
    expect(seqs(await feed.read(0, 10))).toEqual([1, 2, 3, 4]);
    release();
  });

  test("a read of the window returns at most `limit` changes, and exactly the read bound's bytes", async () => {
    const log = new Log();
    const feed = feedOver(log, { pollMs: 10, readBytes: 300 });
    const release = await feed.follow();
    log.append(100, 100, 100, 100, 100, 100);
    await at(10);
    expect(feed.latest).toBe(6);
    expect(seqs(feed.readHeld(0, 2)!)).toEqual([1, 2]);
    expect(seqs(feed.readHeld(2, 2)!)).toEqual([3, 4]);
    expect(seqs(feed.readHeld(1, 10)!)).toEqual([2, 3, 4]);
    expect(seqs(feed.readHeld(4, 10)!)).toEqual([5, 6]);
    expect(feed.readHeld(6, 10)).toEqual([]);
    // A stream's read of what the window holds costs no store read.
    const reads = log.reads;
    expect(seqs(await feed.read(1, 2))).toEqual([2, 3]);
    expect(log.reads).toBe(reads);
    release();
  });

  test("a window exactly at its bytes keeps everything; past them it drops the oldest, and reads what it keeps by their own sizes", async () => {
    const log = new Log();
    const feed = feedOver(log, { pollMs: 10, windowBytes: 300, readBytes: 250 });
    const release = await feed.follow();
    log.append(10, 10, 280);
    // The first read stops before the 280 bytes (past the read bound with the first two): the next poll reads it.
    await at(10);
    expect(feed.latest).toBe(2);
    const full = feed.nextAdvance;
    await at(20);
    expect(await settled(full)).toBe(true);
    expect(feed.held).toEqual({ changes: 3, bytes: 300 });
    expect(feed.holds(0)).toBe(true);
    log.append(100, 100, 100);
    await at(30);
    // The newest that fit in 300: sequences 4–6, 100 bytes each.
    expect(feed.held).toEqual({ changes: 3, bytes: 300 });
    expect(feed.holds(2)).toBe(false);
    expect(feed.holds(3)).toBe(true);
    expect(seqs(feed.readHeld(3, 10)!)).toEqual([4, 5]);
    expect(seqs(feed.readHeld(4, 10)!)).toEqual([5, 6]);
    expect(feed.readHeld(2, 10)).toBeUndefined();
    release();
  });

  test("a feed nobody has followed holds nothing", () => {
    expect(feedOver(new Log()).held).toEqual({ changes: 0, bytes: 0 });
  });
});
