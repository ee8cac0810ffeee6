// Group commit: writes that arrive in the same turn of the event loop share one IMMEDIATE transaction, each in its own
// savepoint, so one that throws changes nothing while the others still commit, and all are acknowledged after the
// single commit (one fsync) returns. Checks and writes stay atomic: the transaction holds the write lock from the
// start and the writes run one after another inside it. A large write may ask for a transaction of its own instead
// (writeAlone, a bulk import's batch creation): no savepoint, whose journal would first copy every page it changes.
//
// better-sqlite3 is synchronous: a transaction blocks the event loop until it commits, and every other call (a read of
// another tenant) waits behind it. So a transaction takes more writes only while its writes have worked less than
// GROUP_BUDGET_MS (the write that crosses it is the last of its batch): the rest stay queued in order and commit in the
// next batch. And after a batch whose writes worked LONG_BATCH_MS or more, the next starts no sooner than twice as long
// after it ended as it took, commit included (at most MAX_PAUSE_MS), so long writes get at most about a third of the
// event loop: a read of another tenant needs several turns of it (its request, its token's check on the thread pool,
// its response), and without the pause each of those turns could wait behind a batch. The commit itself (an fsync)
// decides neither: every batch pays it, and small writes keep sharing one commit with no pause (16 SetPolicy calls work
// a few ms), while a flood of 1,500-member policy writes (~10 ms of work each) commits one or two at a time with other
// calls in between instead of sixteen in one go. On a loaded machine the budget cuts batches shorter: more fsyncs, the
// same bound.
//
// With a row budget too (--sqlite-batch-rows N, off by default), a transaction also stops taking writes once it has
// changed N rows or more (SQLite's own count, `total_changes()`, member-index rows included).
import { detached } from "../../tracing/spans.js";
import { tracedWrite, type TracedWrite } from "../../tracing/writes.js";
import type { Database } from "./database.js";

interface PendingWrite {
  run: () => unknown;
  /** writeAlone: a transaction of its own, without a savepoint. */
  alone: boolean;
  /** In a traced call: the span of the group commit this write waits for. */
  traced: TracedWrite | undefined;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

const COMMIT_ATTRIBUTES = { "db.system.name": "sqlite", "db.operation.name": "commit" };

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** The default row budget of one group commit: 0, none (every write of the turn, as many rows as they change). */
export const SQLITE_BATCH_ROWS = 0;

/**
 * The work (ms) after which a group commit takes no more writes: about the longest one holds the loop, but for its
 * last write.
 */
export const GROUP_BUDGET_MS = 8;

/** A batch whose writes worked this long (ms) or longer is followed by a pause (at most MAX_PAUSE_MS)... */
export const LONG_BATCH_MS = 5;
/**
 * ...this many times as long as the batch took: long writes get at most a third of the event loop while they keep
 * coming. Measured on the write-flood attack (victim p99, load ~8–10, two runs each): 206 / 221 ms with a pause as
 * long as the batch, 127 / 183 ms with twice, 125 / 66 ms with three times; a writer of big writes alone is slowed as
 * much, so twice.
 */
const PAUSE_FACTOR = 2;
const MAX_PAUSE_MS = 100;

export interface WriteQueueOptions {
  /** Rows one transaction may change before it takes no more writes (--sqlite-batch-rows); 0: no budget. */
  batchRows?: number;
  /** Work (ms) after which one transaction takes no more writes (tests shorten it); GROUP_BUDGET_MS by default. */
  budgetMs?: number;
}

export class WriteQueue {
  private pending: PendingWrite[] = [];
  private scheduled = false;
  /** When the next batch may start (performance.now()): after a long batch, as long again after its end. */
  private notBefore = 0;
  private readonly batchRows: number;
  private readonly budgetMs: number;
  private readonly totalChanges: () => number;

  /** `committed` runs after each commit, before the writes of the batch are acknowledged. */
  constructor(
    private readonly db: Database,
    private readonly committed: () => void,
    options: WriteQueueOptions = {},
  ) {
    this.batchRows = options.batchRows ?? SQLITE_BATCH_ROWS;
    this.budgetMs = options.budgetMs ?? GROUP_BUDGET_MS;
    const totalChanges = db.prepare<[], number>("SELECT total_changes()").pluck();
    this.totalChanges = () => totalChanges.get()!;
  }

  /** Runs `fn` inside a write transaction shared with the other writes of this turn; resolves after the commit. */
  write<T>(fn: () => T): Promise<T> {
    return this.enqueue(fn, false);
  }

  /**
   * Runs `fn` in a transaction of its own, without the savepoint each shared write gets: for a large write (a batch
   * creation) whose changed pages the savepoint would first copy to its journal — a third of what a bulk import
   * writes. The writes queued before it commit first, those after it in a later batch; if `fn` throws, its
   * transaction rolls back and it alone fails, as a shared write would.
   */
  writeAlone<T>(fn: () => T): Promise<T> {
    return this.enqueue(fn, true);
  }

  private enqueue<T>(fn: () => T, alone: boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const traced = tracedWrite("sqlite commit", COMMIT_ATTRIBUTES);
      this.pending.push({ run: fn, alone, traced, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Writes past the budget run first in the next batch, a turn later: after the calls that are waiting now. */
  private requeue(rest: PendingWrite[]): void {
    if (rest.length === 0) return;
    this.pending = rest.concat(this.pending);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Outside the first writer's context: each traced write runs in its own (TracedWrite.run).
    const run = () => {
      this.scheduled = false;
      this.commitPending();
    };
    const pause = this.notBefore - performance.now();
    detached(() => (pause > 0 ? setTimeout(run, pause) : setImmediate(run)));
  }

  /** Whether the transaction started at `started` (with `before` rows changed then) takes another write. */
  private takesMore(started: number, before: number): boolean {
    if (performance.now() - started >= this.budgetMs) return false;
    return this.batchRows === 0 || this.totalChanges() - before < this.batchRows;
  }

  private commitPending(): void {
    // A write alone is a batch of its own: the writes before it make this batch, those after it wait for the next.
    const aloneAt = this.pending.findIndex((write) => write.alone);
    const end = aloneAt === -1 ? this.pending.length : Math.max(aloneAt, 1);
    const queued = this.pending.slice(0, end);
    const later = this.pending.slice(end);
    this.pending = [];
    const outcomes: Outcome[] = [];
    // How many writes this batch took (the last may have failed it before its outcome was known).
    let taken = 0;
    const before = this.batchRows > 0 ? this.totalChanges() : 0;
    const started = performance.now();
    // When the batch's last write ended, before the commit.
    let worked = started;
    try {
      this.db.transaction(() => {
        if (queued[0]?.alone) {
          // Its failure rolls the transaction back, which holds nothing else. No pause after it (`worked` stays at
          // the start): a bulk import's batch is bounded by its request (10,000 items), and a pause after each would
          // slow imports by as much; the calls that arrived meanwhile still run before the next batch.
          const write = queued[taken++]!;
          outcomes.push({ ok: true, value: write.traced ? write.traced.run(write.run) : write.run() });
          return;
        }
        // At least one write, then more while the transaction has worked briefly and changed few rows.
        while (taken < queued.length && (taken === 0 || this.takesMore(started, before))) {
          const write = queued[taken++]!;
          try {
            // A transaction function called inside a transaction runs as a savepoint.
            const savepoint = this.db.transaction(write.run);
            outcomes.push({ ok: true, value: write.traced ? write.traced.run(savepoint) : savepoint() });
          } catch (error) {
            // Some failures (a full disk, I/O) make SQLite roll back the whole transaction: the batch fails with it.
            if (!this.db.inTransaction) throw error;
            outcomes.push({ ok: false, error });
          }
        }
        worked = performance.now();
      }).immediate();
    } catch (error) {
      // As before batches had a budget: every write waiting fails with it (none of them was committed).
      for (const write of queued) {
        write.traced?.failed(error);
        write.reject(error);
      }
      this.requeue(later);
      return;
    }
    // As long as the whole batch held the loop, its commit included.
    const ended = performance.now();
    if (worked - started >= LONG_BATCH_MS) {
      this.notBefore = ended + Math.min(PAUSE_FACTOR * (ended - started), MAX_PAUSE_MS);
    }
    const batch = queued.slice(0, taken);
    this.requeue([...queued.slice(taken), ...later]);
    this.committed();
    batch.forEach((write, i) => {
      const outcome = outcomes[i]!;
      write.traced?.committed(batch.length, outcome.ok);
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.error);
    });
  }
}
