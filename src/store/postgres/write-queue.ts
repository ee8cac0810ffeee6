// Group commit, as sqlite/write-queue.ts does it: the writes that arrive in one turn of the event loop share one
// transaction, acknowledged after its single COMMIT. Every write transaction first takes one advisory lock, the same in
// every replica, and holds it to its commit: writes are serialised across replicas, and each batch numbers its
// change-log rows MAX(seq) + 1, ... under the lock, so sequence order is commit order (docs/operations.md says why
// that is what a change-feed follower needs). A write's `decide` that throws writes nothing, so the others still
// commit; a statement that fails aborts the batch, which is then retried one write per transaction.
import type pg from "pg";
import { detached } from "../../tracing/spans.js";
import { noteChangeWritten, tracedWrite, type TracedWrite } from "../../tracing/writes.js";
import { WRITE_LOCK, checkOut, isTransient, storeErrorOf, type Connection } from "./database.js";

/** What a write sees of its transaction. */
export interface WriteTx {
  /** Rows of one statement; a named statement is prepared once per connection. */
  query<R extends object>(text: string, values?: unknown[], name?: string): Promise<R[]>;
  /** Allocates `count` consecutive change-log sequences and returns the first. */
  nextSeq(count?: number): number;
  /** A new resource id. */
  nextResourceId(): number;
  /** Scratch space of this transaction, for the store's own batching (see PostgresStore.updatePolicy). */
  readonly local: Map<string, unknown>;
  /** Runs `flush` before COMMIT; its statements belong to the transaction (a failure aborts it). */
  beforeCommit(flush: () => Promise<void>): void;
}

/** Reads, once per batch, what the batch's writes named in advance (one statement for them all). */
export type Prefetch = (tx: WriteTx, names: string[]) => Promise<void>;

interface PendingWrite {
  run: (tx: WriteTx) => Promise<unknown>;
  /** A resource the write reads first: read with the batch's others, before any write runs. */
  prefetch?: string;
  /** In a traced call: the span of the group commit this write waits for. */
  traced: TracedWrite | undefined;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** A statement's failure, told apart from a write's own refusal (a throwing decide, not found). */
class StatementFailure {
  constructor(readonly error: unknown) {}
}

const COMMIT_ATTRIBUTES = { "db.system.name": "postgresql", "db.operation.name": "commit" };

const BEGIN = `BEGIN; SELECT pg_advisory_xact_lock(${WRITE_LOCK}); SELECT COALESCE(MAX(seq), 0) AS seq,
  (SELECT COALESCE(MAX(id), 0) FROM resources) AS id FROM change_log`;

export class PgWriteQueue {
  private pending: PendingWrite[] = [];
  private scheduled = false;
  private running = false;

  /** `committed` gets the last sequence a batch wrote, after its commit and before the writes are acknowledged. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly committed: (lastSeq: number) => void,
    /** Told the duration of every statement, for the store's query-latency figures. */
    private readonly timed: (seconds: number) => void,
    private readonly prefetch: Prefetch,
  ) {}

  write<T>(run: (tx: WriteTx) => Promise<T>, prefetch?: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const traced = tracedWrite("postgresql commit", COMMIT_ATTRIBUTES);
      this.pending.push({ run, prefetch, traced, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Waits for the writes queued so far. */
  async drain(): Promise<void> {
    while (this.running || this.pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  private schedule(): void {
    if (this.running || this.scheduled || this.pending.length === 0) return;
    this.scheduled = true;
    // Outside the first writer's context: each traced write runs in its own (TracedWrite.run).
    detached(() => setImmediate(() => void this.runPending()));
  }

  private async runPending(): Promise<void> {
    this.scheduled = false;
    this.running = true;
    const batch = this.pending;
    this.pending = [];
    try {
      if ((await this.attempt(batch)) === "retry singly") for (const write of batch) await this.attempt([write]);
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  /** Runs `batch` in one transaction and settles every write in it, or answers that each must be retried alone. */
  private async attempt(batch: PendingWrite[]): Promise<"done" | "retry singly"> {
    let connection: Connection;
    try {
      connection = await checkOut(this.pool);
    } catch (e) {
      for (const write of batch) {
        write.traced?.failed(e);
        write.reject(storeErrorOf(e));
      }
      return "done";
    }
    const { client } = connection;
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      const results = (await client.query(BEGIN)) as unknown as pg.QueryResult<{ seq: number; id: number }>[];
      const head = results[2]!.rows[0]!;
      let seq = head.seq;
      let id = head.id;
      let wrote = false;
      const tx: WriteTx = {
        query: async <R extends object>(text: string, values?: unknown[], name?: string) => {
          const started = performance.now();
          try {
            return (await client.query<R>({ text, values, name })).rows;
          } catch (e) {
            throw new StatementFailure(e);
          } finally {
            this.timed((performance.now() - started) / 1000);
          }
        },
        nextSeq: (count = 1) => {
          wrote = true;
          const first = seq + 1;
          seq += count;
          for (let s = first; s <= seq; s++) noteChangeWritten(s);
          return first;
        },
        nextResourceId: () => ++id,
        local: new Map(),
        beforeCommit: (flush) => void flushes.push(flush),
      };
      const flushes: (() => Promise<void>)[] = [];
      const names = [...new Set(batch.flatMap((write) => (write.prefetch === undefined ? [] : [write.prefetch])))];
      if (names.length > 0) {
        try {
          await this.prefetch(tx, names);
        } catch (e) {
          throw e instanceof StatementFailure ? e.error : e;
        }
      }
      for (const write of batch) {
        try {
          outcomes.push({ ok: true, value: await (write.traced ? write.traced.run(() => write.run(tx)) : write.run(tx)) });
        } catch (e) {
          if (e instanceof StatementFailure) throw e.error;
          outcomes.push({ ok: false, error: e });
        }
      }
      for (const flush of flushes.splice(0)) {
        try {
          await flush();
        } catch (e) {
          throw e instanceof StatementFailure ? e.error : e;
        }
      }
      await client.query("COMMIT");
      if (wrote) this.committed(seq);
    } catch (e) {
      let broken = connection.failure !== undefined || isTransient(e);
      if (!broken) await client.query("ROLLBACK").catch(() => (broken = true));
      // A connection that failed is closed, not reused: the pool opens a new one on demand.
      connection.release(broken);
      if (broken || batch.length === 1) {
        for (const write of batch) {
          write.traced?.failed(e);
          write.reject(storeErrorOf(e));
        }
        return "done";
      }
      return "retry singly";
    }
    connection.release();
    batch.forEach((write, i) => {
      const outcome = outcomes[i]!;
      write.traced?.committed(batch.length, outcome.ok);
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.error);
    });
    return "done";
  }
}
