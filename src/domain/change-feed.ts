// One in-process follower of the change log, shared by every Watch stream: while anyone watches, a single poller reads
// the rows committed after the last one it saw (by this process or any other sharing the database: the store
// contract is all it relies on, so it works for every store and across replicas) and keeps the newest ones in a
// bounded window. Each stream reads from the window, and from the store when it lags behind the window or resumes
// from older rows, so that every stream sees every sequence in order, once, whatever its speed.
import type { ChangeRecord, Store } from "../store/store.js";
import { detached } from "../tracing/spans.js";

export interface ChangeFeedOptions {
  /** How often the change log is read while anyone watches. */
  pollMs?: number;
  /** Changes kept in memory for the streams that keep up. */
  windowSize?: number;
  /** The most rows one read of the store returns. */
  batchSize?: number;
}

type FeedStore = Pick<Store, "readChanges" | "latestSequence" | "oldestSequence">;

export class ChangeFeed {
  private readonly pollMs: number;
  private readonly windowSize: number;
  readonly batchSize: number;
  /** The newest changes, contiguous and ascending: every change in (windowStart, latest] by sequence. */
  private window: ChangeRecord[] = [];
  private windowStart = 0;
  /** The newest sequence read from the store. */
  private latestSeen = 0;
  private started: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private followers = 0;
  /** Settled (and replaced) each time the poller reads new rows. */
  private advanced = deferred();
  private polling = false;
  /** Set at shutdown: streams end (and their clients resume on another server or after the restart). */
  closed = false;

  constructor(
    private readonly store: FeedStore,
    options: ChangeFeedOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 25;
    this.windowSize = options.windowSize ?? 10_000;
    this.batchSize = options.batchSize ?? 500;
  }

  /** The newest sequence the feed has read (it trails the store by at most a poll). */
  get latest(): number {
    return this.latestSeen;
  }

  /** Registers a follower (the poller runs while there is one); returns the function that unregisters it. */
  async follow(): Promise<() => void> {
    this.followers++;
    let done = false;
    const release = () => {
      if (done) return;
      done = true;
      if (--this.followers === 0) this.stop();
    };
    try {
      if (!this.started) this.started = this.start();
      await this.started;
    } catch (e) {
      this.started = undefined;
      release();
      throw e;
    }
    return release;
  }

  /**
   * Changes after `afterSeq`, oldest first, at most `limit`: from the window when it holds them, else from the
   * store. Empty when the feed has read nothing newer yet. Throws `TooOld` when the store no longer has them.
   */
  async read(afterSeq: number, limit: number): Promise<readonly ChangeRecord[]> {
    if (afterSeq >= this.windowStart) {
      if (afterSeq >= this.latestSeen) return [];
      const from = firstAfter(this.window, afterSeq);
      return this.window.slice(from, from + limit);
    }
    const oldest = await this.store.oldestSequence();
    if (oldest > afterSeq + 1) throw new TooOld(oldest);
    // Never past what the window holds: the window is the one place that decides what "now" is for every stream.
    const rows = await this.store.readChanges(afterSeq, limit);
    return rows.filter((row) => row.seq <= this.latestSeen);
  }

  /** Resolves once the feed has read past `seq`, after `timeoutMs`, or when `signal` aborts; true when it has. */
  async waitBeyond(seq: number, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.latestSeen > seq) return true;
    if (signal.aborted || this.closed) return false;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        this.advanced.promise,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
          onAbort = resolve;
          signal.addEventListener("abort", onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener("abort", onAbort);
    }
    return this.latestSeen > seq;
  }

  /** Stops polling for good and wakes every waiting stream. */
  close(): void {
    this.closed = true;
    this.stop();
    this.advanced.resolve();
  }

  private async start(): Promise<void> {
    // Whatever was read before nobody followed is stale: start a new window at the store's newest.
    const latest = await this.store.latestSequence();
    this.window = [];
    this.windowStart = latest;
    this.latestSeen = latest;
    // The poller serves every stream: it runs outside the context of the Watch call that started it.
    this.timer = detached(() => setInterval(() => void this.poll(), this.pollMs));
    this.timer.unref();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.started = undefined;
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      for (;;) {
        const from = this.latestSeen;
        const rows = await this.store.readChanges(from, this.batchSize);
        // A restart of the feed (nobody followed for a moment) moved the window meanwhile: these rows are not next.
        if (rows.length === 0 || from !== this.latestSeen) break;
        this.window.push(...rows);
        this.latestSeen = rows.at(-1)!.seq;
        if (this.window.length > this.windowSize) {
          const dropped = this.window.length - this.windowSize;
          this.windowStart = this.window[dropped - 1]!.seq;
          this.window = this.window.slice(dropped);
        }
        const advanced = this.advanced;
        this.advanced = deferred();
        advanced.resolve();
        if (rows.length < this.batchSize) break;
      }
    } catch {
      // The store is unavailable for now: the next poll tries again, and the streams wait.
    } finally {
      this.polling = false;
    }
  }
}

/** A resume from before the retained change log. */
export class TooOld extends Error {
  constructor(readonly oldest: number) {
    super(`the change log starts at sequence ${oldest}`);
  }
}

/** The index of the first change with a sequence greater than `seq` (binary search). */
function firstAfter(window: readonly ChangeRecord[], seq: number): number {
  let lo = 0;
  let hi = window.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (window[mid]!.seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
