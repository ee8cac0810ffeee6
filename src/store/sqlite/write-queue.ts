// Group commit: writes that arrive in the same turn of the event loop share one IMMEDIATE transaction, each in its own
// savepoint, so one that throws changes nothing while the others still commit, and all are acknowledged after the
// single commit (one fsync) returns. Checks and writes stay atomic: the transaction holds the write lock from the
// start and the writes run one after another inside it.
import { detached } from "../../tracing/spans.js";
import { tracedWrite, type TracedWrite } from "../../tracing/writes.js";
import type { Database } from "./database.js";

interface PendingWrite {
  run: () => unknown;
  /** In a traced call: the span of the group commit this write waits for. */
  traced: TracedWrite | undefined;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

const COMMIT_ATTRIBUTES = { "db.system.name": "sqlite", "db.operation.name": "commit" };

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
      const traced = tracedWrite("sqlite commit", COMMIT_ATTRIBUTES);
      this.pending.push({ run: fn, traced, resolve: resolve as (value: unknown) => void, reject });
      // Outside the first writer's context: each traced write runs in its own (TracedWrite.run).
      if (this.pending.length === 1) detached(() => setImmediate(() => this.commitPending()));
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
            const savepoint = this.db.transaction(write.run);
            outcomes.push({ ok: true, value: write.traced ? write.traced.run(savepoint) : savepoint() });
          } catch (error) {
            // Some failures (a full disk, I/O) make SQLite roll back the whole transaction: the batch fails with it.
            if (!this.db.inTransaction) throw error;
            outcomes.push({ ok: false, error });
          }
        }
      }).immediate();
    } catch (error) {
      for (const write of batch) {
        write.traced?.failed(error);
        write.reject(error);
      }
      return;
    }
    this.committed();
    batch.forEach((write, i) => {
      const outcome = outcomes[i]!;
      write.traced?.committed(batch.length, outcome.ok);
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.error);
    });
  }
}
