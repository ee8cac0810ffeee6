// The change feed's window is bounded in bytes, not changes: it keeps the newest changes that fit, a stream behind
// them reads the store, and every read (of the window or of the store) returns at most the read bound's bytes (at
// least one change), so what a stream holds at a time is bounded too. When the feed reads (its delivery turns and
// their spacing under continuous commits, its polls), who follows it, history gone and the restart of a window:
// change-feed-turns.test.ts, on a fake clock.
import { describe, expect, test } from "vitest";
import { ChangeFeed, heldBytesOfChange } from "../../src/domain/change-feed.js";
import type { ChangeQuery, ChangeRecord } from "../../src/store/store.js";

/** A change log in memory whose changes have the sizes given (the feed's `sizeOf` reads them). */
class MemoryLog {
  readonly rows: ChangeRecord[] = [];
  readonly sizes = new Map<ChangeRecord, number>();
  storeReads: { afterSeq: number; maxBytes: number | undefined }[] = [];

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
    // The probe of the oldest retained row (oldestSequence: the first row after 0, no byte bound) is not a page read.
    if (maxBytes !== undefined || afterSeq !== 0 || limit !== 1) this.storeReads.push({ afterSeq, maxBytes });
    const out: ChangeRecord[] = [];
    let bytes = 0;
    for (const row of this.rows.filter((r) => r.seq > afterSeq).slice(0, limit)) {
      const size = this.sizes.get(row)!;
      if (out.length > 0 && maxBytes !== undefined && bytes + size > maxBytes) break;
      out.push(row);
      bytes += size;
    }
    return out;
  }

  async latestSequence(): Promise<number> {
    return this.rows.length;
  }

}

/** A feed whose window counts each change at its size alone (the server's estimate is tested on its own below). */
async function feedOver(log: MemoryLog, windowBytes: number, readBytes: number) {
  const feed = new ChangeFeed(log, { windowBytes, readBytes, pollMs: 1, sizeOf: (c) => log.sizes.get(c)!, heldBytesOf: (size) => size });
  const release = await feed.follow();
  return { feed, release };
}

/** Waits for the feed's poller to have read the whole log (it reports each advance). */
async function caughtUp(feed: ChangeFeed, log: MemoryLog): Promise<void> {
  while (feed.latest < log.rows.length) await feed.nextAdvance;
}

describe("the change feed's window", () => {
  test("holds the newest changes that fit in its bytes, whatever their number", async () => {
    const log = new MemoryLog();
    const { feed, release } = await feedOver(log, 1_000, 10_000);
    log.append(400, 400, 400, 100, 100);
    await caughtUp(feed, log);
    // The newest four fit in 1,000 bytes; with the first they would not.
    expect(feed.held).toEqual({ changes: 4, bytes: 1_000 });
    log.append(...Array.from({ length: 50 }, () => 10));
    await caughtUp(feed, log);
    expect(feed.held).toEqual({ changes: 50 + 2, bytes: 700 });
    release();
  });

  test("a change larger than the window is read from the store by every stream, in order", async () => {
    const log = new MemoryLog();
    const { feed, release } = await feedOver(log, 100, 10_000);
    log.append(5_000, 10, 5_000);
    await caughtUp(feed, log);
    expect(feed.held.bytes).toBeLessThanOrEqual(100);
    log.storeReads = [];
    const read = await feed.read(0, 100);
    expect(read.map((c) => c.seq)).toEqual([1, 2]);
    expect(log.storeReads).toEqual([{ afterSeq: 0, maxBytes: 10_000 }]);
    expect((await feed.read(2, 100)).map((c) => c.seq)).toEqual([3]);
    release();
  });

  test("a read returns at most the read bound's bytes, at least one change, from the window and from the store", async () => {
    const log = new MemoryLog();
    const { feed, release } = await feedOver(log, 1_000_000, 250);
    log.append(100, 100, 100, 1_000, 100);
    await caughtUp(feed, log);
    expect(feed.holds(0)).toBe(true);
    expect((await feed.read(0, 100)).map((c) => c.seq)).toEqual([1, 2]);
    expect((await feed.read(2, 100)).map((c) => c.seq)).toEqual([3]);
    expect((await feed.read(3, 100)).map((c) => c.seq)).toEqual([4]);
    expect((await feed.read(4, 100)).map((c) => c.seq)).toEqual([5]);
    expect(await feed.read(5, 100)).toEqual([]);
    release();

    // Behind the window (a new follower starts its window at the newest change): the store, with the same bound.
    const again = await feedOver(log, 1_000_000, 250);
    expect(again.feed.holds(0)).toBe(false);
    log.storeReads = [];
    expect((await again.feed.read(0, 100)).map((c) => c.seq)).toEqual([1, 2]);
    expect(log.storeReads).toEqual([{ afterSeq: 0, maxBytes: 250 }]);
    again.release();
  });
});

describe("reads of the window within a turn", () => {
  test("the same read again answers what the first did; another position, limit or turn answers its own", async () => {
    const log = new MemoryLog();
    const { feed, release } = await feedOver(log, 1_000_000, 10_000);
    log.append(10, 10, 10, 10);
    await caughtUp(feed, log);
    const first = feed.readHeld(1, 100)!;
    expect(first.map((c) => c.seq)).toEqual([2, 3, 4]);
    // The streams woken by one turn ask the same: one answer for all of them.
    expect(feed.readHeld(1, 100)).toBe(first);
    expect(feed.readHeld(1, 2)!.map((c) => c.seq)).toEqual([2, 3]);
    expect(feed.readHeld(2, 100)!.map((c) => c.seq)).toEqual([3, 4]);
    expect(feed.readHeld(1, 100)!.map((c) => c.seq)).toEqual([2, 3, 4]);
    // A new turn read more: the same question now has a longer answer.
    log.append(10);
    await caughtUp(feed, log);
    expect(feed.readHeld(1, 100)!.map((c) => c.seq)).toEqual([2, 3, 4, 5]);
    release();
  });

  test("after the window dropped its oldest changes, a read of what it still holds answers from what it holds now", async () => {
    const log = new MemoryLog();
    const { feed, release } = await feedOver(log, 30, 10_000);
    log.append(10, 10, 10);
    await caughtUp(feed, log);
    expect(feed.readHeld(0, 100)!.map((c) => c.seq)).toEqual([1, 2, 3]);
    expect(feed.readHeld(1, 100)!.map((c) => c.seq)).toEqual([2, 3]);
    log.append(10);
    await caughtUp(feed, log);
    // Change 1 left the window (30 bytes): a read after 0 is the store's now, a read after 1 has change 4 too.
    expect(feed.readHeld(0, 100)).toBeUndefined();
    expect(feed.readHeld(1, 100)!.map((c) => c.seq)).toEqual([2, 3, 4]);
    release();
  });
});

describe("the window's memory, as the feed counts it by default", () => {
  test("each change held costs 1.5 KiB plus three times its size: the bound holds that many, not its encoded bytes", async () => {
    expect(heldBytesOfChange(150)).toBe(1_536 + 450);
    const log = new MemoryLog();
    const feed = new ChangeFeed(log, { windowBytes: 10_000, readBytes: 100_000, pollMs: 1, sizeOf: (c) => log.sizes.get(c)! });
    const release = await feed.follow();
    log.append(...Array.from({ length: 20 }, () => 150));
    await caughtUp(feed, log);
    // 5 × 1,986 = 9,930 fit in 10,000; by encoded size alone, all 20 (3,000 bytes) would have.
    expect(feed.held).toEqual({ changes: 5, bytes: 9_930 });
    expect(feed.holds(15)).toBe(true);
    expect(feed.holds(14)).toBe(false);
    release();
  });
});
