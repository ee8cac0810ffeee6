// The SQLite group commit takes more writes only while its transaction has worked briefly (GROUP_BUDGET_MS) and, with
// a row budget (--sqlite-batch-rows), changed few rows: writes past a budget commit in a later batch, every one of
// them, in the order they were queued, and a read waiting meanwhile runs between the batches. Each write of the row
// tests changes the number of rows it says; each of the time tests works the milliseconds it says.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/store/sqlite/database.js";
import { WriteQueue } from "../../src/store/sqlite/write-queue.js";

describe("SQLite group commit bounded by rows changed", () => {
  let dir: string;
  let db: Database;
  /** The writes each commit made visible: the `n`s of the log, one entry per commit. */
  let commits: number[][];
  let queue: WriteQueue;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "write-batches-"));
    db = openDatabase(join(dir, "policy.db"));
    db.exec("CREATE TABLE log (n INTEGER NOT NULL, row INTEGER NOT NULL)");
    commits = [];
    // No time budget here: a slow machine must not split what the row budget keeps together.
    queue = new WriteQueue(db, () => commits.push(writes()), { batchRows: 100, budgetMs: Infinity });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const writes = () => db.prepare<[], number>("SELECT DISTINCT n FROM log ORDER BY rowid").pluck().all();
  /** A write that inserts `rows` rows for `n`. */
  const write = (n: number, rows: number) =>
    queue.write(() => {
      const insert = db.prepare("INSERT INTO log (n, row) VALUES (?, ?)");
      for (let i = 0; i < rows; i++) insert.run(n, i);
      return n;
    });

  it("commits small writes of one turn together", async () => {
    const acks = await Promise.all(Array.from({ length: 50 }, (_, i) => write(i, 1)));
    expect(acks).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(commits).toHaveLength(1);
  });

  it("commits writes past the budget in later batches, every one and in order", async () => {
    const acks = await Promise.all(Array.from({ length: 7 }, (_, i) => write(i, 60)));
    expect(acks).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // 60 rows each, 100 per batch: the second write crosses the budget and ends its batch.
    expect(commits).toEqual([[0, 1], [0, 1, 2, 3], [0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5, 6]]);
  });

  it("commits a write bigger than the budget alone", async () => {
    await Promise.all([write(1, 500), write(2, 500), write(3, 1)]);
    expect(commits).toEqual([[1], [1, 2], [1, 2, 3]]);
  });

  it("without a row budget (the default) commits every write of a turn together, whatever it changes", async () => {
    const unbounded = new WriteQueue(db, () => commits.push(writes()), { budgetMs: Infinity });
    const one = (n: number) => unbounded.write(() => db.prepare("INSERT INTO log (n, row) VALUES (?, 0)").run(n));
    await Promise.all([write(1, 500), one(2), one(3)]);
    // `write` uses the budgeted queue: its 500 rows commit alone; the other queue's two writes share one commit.
    expect(commits).toEqual([[1], [1, 2, 3]]);
  });

  it("a write that fails in a later batch leaves the others committed", async () => {
    const failing = queue.write(() => {
      db.prepare("INSERT INTO log (n, row) VALUES (?, ?)").run(99, 0);
      throw new Error("refused");
    });
    const results = await Promise.allSettled([write(1, 150), failing, write(2, 1)]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(commits).toEqual([[1], [1, 2]]);
  });

  it("commits a write alone in a transaction of its own, after the writes queued before it and before those after", async () => {
    const unbounded = new WriteQueue(db, () => commits.push(writes()));
    const one = (n: number) => unbounded.write(() => db.prepare("INSERT INTO log (n, row) VALUES (?, 0)").run(n));
    const alone = () => unbounded.writeAlone(() => db.prepare("INSERT INTO log (n, row) VALUES (?, 0)").run(3));
    await Promise.all([one(1), one(2), alone(), one(4), one(5)]);
    expect(commits).toEqual([[1, 2], [1, 2, 3], [1, 2, 3, 4, 5]]);
  });

  it("a write alone that throws changes nothing and fails alone; the writes around it commit", async () => {
    const unbounded = new WriteQueue(db, () => commits.push(writes()));
    const one = (n: number) => unbounded.write(() => db.prepare("INSERT INTO log (n, row) VALUES (?, 0)").run(n));
    const failing = () =>
      unbounded.writeAlone(() => {
        db.prepare("INSERT INTO log (n, row) VALUES (?, ?)").run(99, 0);
        throw new Error("refused");
      });
    const results = await Promise.allSettled([one(1), failing(), one(2)]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(commits).toEqual([[1], [1, 2]]);
  });

  it("runs a read that waits meanwhile between batches", async () => {
    const seenByRead: number[][] = [];
    const all = Promise.all(Array.from({ length: 4 }, (_, i) => write(i, 150)));
    // Queued while the first batch's turn runs: it runs after that batch, before the last.
    setImmediate(() => setImmediate(() => seenByRead.push(writes())));
    await all;
    expect(seenByRead).toHaveLength(1);
    expect(seenByRead[0]!.length).toBeGreaterThan(0);
    expect(seenByRead[0]!.length).toBeLessThan(4);
  });
});

describe("SQLite group commit bounded by time", () => {
  let dir: string;
  let db: Database;
  let commits: number[][];
  let queue: WriteQueue;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "write-budget-"));
    db = openDatabase(join(dir, "policy.db"));
    db.exec("CREATE TABLE log (n INTEGER NOT NULL)");
    commits = [];
    queue = new WriteQueue(db, () => commits.push(writes()), { budgetMs: 5 });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const writes = () => db.prepare<[], number>("SELECT n FROM log ORDER BY rowid").pluck().all();
  /** A write that works at least `ms` (as a write of a big policy does) before it inserts `n`. */
  const write = (n: number, ms: number) =>
    queue.write(() => {
      const until = performance.now() + ms;
      while (performance.now() < until);
      db.prepare("INSERT INTO log (n) VALUES (?)").run(n);
      return n;
    });

  it("commits a write that takes longer than the budget alone, then the others, every one and in order", async () => {
    const acks = await Promise.all([write(0, 6), write(1, 6), write(2, 6)]);
    expect(acks).toEqual([0, 1, 2]);
    expect(commits).toEqual([[0], [0, 1], [0, 1, 2]]);
  });

  it("still commits quick writes of one turn together", async () => {
    await Promise.all([write(0, 6), ...Array.from({ length: 20 }, (_, i) => write(i + 1, 0))]);
    // The first write spends the budget alone; the quick ones share the next commit (unless this machine stalls 5 ms).
    expect(commits[0]).toEqual([0]);
    expect(commits.at(-1)).toHaveLength(21);
    expect(commits.length).toBeLessThan(21);
  });

  it("runs a read that waits meanwhile between batches", async () => {
    const seenByRead: number[][] = [];
    const all = Promise.all(Array.from({ length: 4 }, (_, i) => write(i, 6)));
    setImmediate(() => setImmediate(() => seenByRead.push(writes())));
    await all;
    expect(seenByRead).toHaveLength(1);
    expect(seenByRead[0]!.length).toBeGreaterThan(0);
    expect(seenByRead[0]!.length).toBeLessThan(4);
  });

  it("a failing write in a later batch leaves the others committed", async () => {
    const failing = queue.write(() => {
      db.prepare("INSERT INTO log (n) VALUES (?)").run(99);
      throw new Error("refused");
    });
    const results = await Promise.allSettled([write(1, 6), failing, write(2, 0)]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    // Every commit holds the good writes so far and never the failing one (how many batches it took depends on how long
    // each write ran against the budget: a slow machine may commit the failing write's batch alone, empty).
    expect(commits.at(-1)).toEqual([1, 2]);
    expect(commits.flat()).not.toContain(99);
    expect(writes()).toEqual([1, 2]);
  });
});
