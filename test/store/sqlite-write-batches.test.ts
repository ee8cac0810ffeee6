// The SQLite group commit takes writes only while its transaction is young (SQLITE_BATCH_MS): writes past the budget
// commit in a later batch, every one of them, in the order they were queued, and a read waiting meanwhile runs between
// the batches. The clock is the test's: each write "takes" the time it says.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/store/sqlite/database.js";
import { WriteQueue } from "../../src/store/sqlite/write-queue.js";

describe("SQLite group commit bounded by time", () => {
  let dir: string;
  let db: Database;
  let clock: number;
  let commits: number[][];
  let queue: WriteQueue;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "write-batches-"));
    db = openDatabase(join(dir, "policy.db"));
    db.exec("CREATE TABLE log (n INTEGER NOT NULL)");
    clock = 0;
    commits = [];
    queue = new WriteQueue(db, () => commits.push(rows()), { batchMs: 10, now: () => clock });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const rows = () => db.prepare<[], number>("SELECT n FROM log ORDER BY rowid").pluck().all();
  /** A write that appends `n` and takes `ms` of the test's clock. */
  const write = (n: number, ms: number) =>
    queue.write(() => {
      db.prepare("INSERT INTO log (n) VALUES (?)").run(n);
      clock += ms;
      return n;
    });

  it("commits small writes of one turn together", async () => {
    const acks = await Promise.all(Array.from({ length: 50 }, (_, i) => write(i, 0.1)));
    expect(acks).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(commits).toHaveLength(1);
  });

  it("commits writes past the budget in later batches, every one and in order", async () => {
    const acks = await Promise.all(Array.from({ length: 7 }, (_, i) => write(i, 6)));
    expect(acks).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // 6 ms each, 10 ms budget: the second write crosses it and ends its batch.
    expect(commits).toEqual([[0, 1], [0, 1, 2, 3], [0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5, 6]]);
  });

  it("a single write longer than the budget commits alone", async () => {
    await Promise.all([write(1, 50), write(2, 50)]);
    expect(commits).toEqual([[1], [1, 2]]);
  });

  it("runs a read that waits meanwhile between batches", async () => {
    const seenByRead: number[][] = [];
    const writes = Promise.all(Array.from({ length: 4 }, (_, i) => write(i, 20)));
    // Queued after the first batch's turn began: it runs after that batch, before the next ones.
    setImmediate(() => setImmediate(() => seenByRead.push(rows())));
    await writes;
    expect(seenByRead).toHaveLength(1);
    expect(seenByRead[0]!.length).toBeGreaterThan(0);
    expect(seenByRead[0]!.length).toBeLessThan(4);
  });
});
