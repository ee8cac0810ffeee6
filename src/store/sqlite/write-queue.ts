// Group commit: writes that arrive in the same turn of the event loop share one IMMEDIATE transaction, each in its own
// savepoint, so one that throws changes nothing while the others still commit, and all are acknowledged after the
// single commit (one fsync) returns. Checks and writes stay atomic: the transaction holds the write lock from the
// start and the writes run one after another inside it.
import type { Database } from "./database.js";

interface PendingWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class WriteQueue {
  private pending: PendingWrite[] = [];

  /** `committed` runs after each commit, before the writes of the batch are acknowledged. */
  constructor(
    private readonly db: Database,
    private readonly committed: () => void,
  ) {}

  /** Runs `fn` inside a write transaction shared with the other writes of this turn; resolves after the commit. */
  write<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run: fn, resolve: resolve as (value: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => this.commitPending());
    });
  }

  private commitPending(): void {
    const batch = this.pending;
    this.pending = [];
    const outcomes: Outcome[] = [];
    try {
      this.db.transaction(() => {
        for (const write of batch) {
          try {
            // A transaction function called inside a transaction runs as a savepoint.
            outcomes.push({ ok: true, value: this.db.transaction(write.run)() });
          } catch (error) {
            // Some failures (a full disk, I/O) make SQLite roll back the whole transaction: the batch fails with it.
            if (!this.db.inTransaction) throw error;
            outcomes.push({ ok: false, error });
          }
        }
      }).immediate();
    } catch (error) {
      for (const write of batch) write.reject(error);
      return;
    }
    this.committed();
    batch.forEach((write, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.error);
    });
  }
}
