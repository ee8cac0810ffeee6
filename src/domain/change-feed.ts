// One in-process follower of the change log, shared by every Watch stream: while anyone watches, a single poller reads
// the rows committed after the last one it saw (by this process or any other sharing the database: the store
// contract is all it relies on, so it works for every store and across replicas) and keeps the newest ones in a
// window bounded in bytes. Each stream reads from the window, and from the store when it lags behind the window or
// resumes from older rows, so that every stream sees every sequence in order, once, whatever its speed. Every read
// (of the window or of the store) is bounded in bytes too, so what one stream holds at a time is bounded.
//
// Delivery turns are paced: the feed wakes its streams at most once per `turnMs`, so that under a stream of writes
// each stream sends one message (a batch of everything since its last) per turn, not one per commit, whatever the
// write rate; and a commit of this process (the store's writtenSequence moved) is read within a tick once that much
// has passed since the last turn, rather than at the next poll, so that sparse writes are delivered at once. Writes
// of other processes sharing the database are found by the poll, every `pollMs`.
//
// Under a continuous stream of this process's commits (in two turns running, a second commit came while one already
// waited for the turn: more than one commit a turn), turns lengthen, doubling up to `busyTurnMs`: a stream's cost is
// per message (its promise hops, the transport's framing and write, and the client's read of it), not per change, so
// with many streams the same changes in fewer, larger messages take less of the server's event loop from the writes
// themselves. Once a turn carries one commit, turns are `turnMs` again: sparse writes, and a writer that waits for
// each write's delivery before the next (one commit a turn, nothing to coalesce), keep their latency.
import { oldestSequence, type ChangeRecord, type Store } from "../store/store.js";
import { detached } from "../tracing/spans.js";
import { encodedSizeOf } from "./change-message.js";

export const DEFAULT_WINDOW_BYTES = 64 * 1024 * 1024;

/**
 * The memory a change held in the window takes, estimated from its encoded size: the record as the store returned
 * it (its policy decoded), the encoding made for it, and their slots. Measured (heap after GC, one watcher following
 * 10,000–20,000 SetPolicy changes): 1.8 KiB for a change of ~150 encoded bytes, 2.9 KiB for ~620 — about 1.5 KiB
 * plus 2.2 times its size; counted here as 1.5 KiB plus 3 times. The window was bounded by encoded bytes alone, which
 * let `--watch-window-mb` 64 hold some 700 MB of heap under a continuous write load.
 */
export function heldBytesOfChange(size: number): number {
  return 1536 + 3 * size;
}
/** What one read returns at most (at least one change): a delivery turn, and a batch of changes sent at once. */
export const DEFAULT_READ_BYTES = 512 * 1024;
/** The least time between two delivery turns (ms): at most 40 messages a second per stream under any write rate. */
export const DEFAULT_TURN_MS = 25;
/**
 * The least time between two turns while this process commits continuously (ms): at most 10 messages a second per
 * stream then, and a change waits at most about this long for its turn.
 */
export const DEFAULT_BUSY_TURN_MS = 100;
/** How often the feed looks at the store's writtenSequence (a number in memory, no I/O). */
const TICK_MS = 5;

export interface ChangeFeedOptions {
  /** How often the change log is read while anyone watches (for other processes' writes). */
  pollMs?: number;
  /** The least time between two delivery turns; `pollMs` when that is given, DEFAULT_TURN_MS otherwise. */
  turnMs?: number;
  /**
   * The longest the turns grow to under a continuous stream of this process's commits; DEFAULT_BUSY_TURN_MS, or
   * `turnMs` (turns that do not grow) when `turnMs` or `pollMs` is given.
   */
  busyTurnMs?: number;
  /** The memory the changes kept for the streams that keep up may take, as `heldBytesOf` counts it. */
  windowBytes?: number;
  /** What holding a change costs the window, from its size (`sizeOf`); `heldBytesOfChange` by default. */
  heldBytesOf?: (size: number) => number;
  /** The most rows one read returns. */
  batchSize?: number;
  /** The most bytes of changes one read returns (a single larger change is returned alone). */
  readBytes?: number;
  /** A change's size in bytes, measured once, when it enters the window. */
  sizeOf?: (change: ChangeRecord) => number;
}

type FeedStore = Pick<Store, "readChanges" | "latestSequence"> & Partial<Pick<Store, "writtenSequence">>;

export class ChangeFeed {
  private readonly pollMs: number;
  private readonly turnMs: number;
  private readonly busyTurnMs: number;
  /** The least time between the last turn and the next: `turnMs`, longer while commits keep coming. */
  private interval: number;
  /** Whether a second commit of this process came while one already waited for the next turn. */
  private busy = false;
  /** The writtenSequence last seen waiting for a turn. */
  private waiting = 0;
  /** The turns running that were busy so. */
  private busyTurns = 0;
  private readonly windowBytes: number;
  readonly batchSize: number;
  private readonly readBytes: number;
  private readonly sizeOf: (change: ChangeRecord) => number;
  private readonly heldBytesOf: (size: number) => number;
  /** The newest changes, contiguous and ascending: every change in (windowStart, latest] by sequence. */
  private window: ChangeRecord[] = [];
  /**
   * The last read of the window, and what it was asked (see readHeld): valid while nothing new was read (the window
   * only changes, trimmed or restarted, when `latestSeen` does or the read falls outside it).
   */
  private lastHeld: { afterSeq: number; limit: number; latestSeen: number; changes: readonly ChangeRecord[] } | undefined;
  /** The size of each change of the window, and their sum. */
  // Stryker disable next-line ArrayDeclaration: equivalent — start() sets it before any read (unlike the window, which `held` reads)
  private sizes: number[] = [];
  private bytes = 0;
  private windowStart = 0;
  /** The newest sequence read from the store. */
  private latestSeen = 0;
  private started: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private followers = 0;
  /** Called (each once) when the poller next reads new rows, or at close: the streams waiting for a turn. */
  private sleepers = new Set<() => void>();
  private polling = false;
  /** When (performance.now()) the feed last read the log, and last woke its streams. */
  private lastPoll = 0;
  private lastTurn = 0;
  /** Set at shutdown: streams end (and their clients resume on another server or after the restart). */
  closed = false;

  constructor(
    private readonly store: FeedStore,
    options: ChangeFeedOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 25;
    this.turnMs = options.turnMs ?? (options.pollMs !== undefined ? options.pollMs : DEFAULT_TURN_MS);
    const paced = options.turnMs !== undefined || options.pollMs !== undefined;
    this.busyTurnMs = Math.max(this.turnMs, options.busyTurnMs ?? (paced ? this.turnMs : DEFAULT_BUSY_TURN_MS));
    this.interval = this.turnMs;
    this.windowBytes = options.windowBytes ?? DEFAULT_WINDOW_BYTES;
    this.batchSize = options.batchSize ?? 500;
    this.readBytes = options.readBytes ?? DEFAULT_READ_BYTES;
    this.sizeOf = options.sizeOf ?? encodedSizeOf;
    this.heldBytesOf = options.heldBytesOf ?? heldBytesOfChange;
  }

  /** Settles when the feed next reads new rows (or closes). */
  get nextAdvance(): Promise<void> {
    return new Promise((resolve) => this.whenAdvanced(resolve));
  }

  /** Calls `wake` once, when the poller next reads new rows or the feed closes (at once if it has closed). */
  whenAdvanced(wake: () => void): void {
    if (this.closed) wake();
    else this.sleepers.add(wake);
  }

  /** Takes back a `wake` not yet called. */
  forget(wake: () => void): void {
    this.sleepers.delete(wake);
  }

  /** Whether the changes after `afterSeq` are read from the window (live), not from the store (history). */
  holds(afterSeq: number): boolean {
    return afterSeq >= this.windowStart;
  }

  /** The changes the window holds now, and their bytes. */
  get held(): { changes: number; bytes: number } {
    return { changes: this.window.length, bytes: this.bytes };
  }

  /** The least time (ms) from the last delivery turn to the next: `turnMs`, longer while commits keep coming. */
  get turnSpacing(): number {
    return this.interval;
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
   * Changes after `afterSeq`, oldest first, at most `limit` and the read bound's bytes (at least one): from the
   * window when it holds them, else from the store. Empty when the feed has read nothing newer yet. Throws `TooOld`
   * when the store no longer has them.
   */
  async read(afterSeq: number, limit: number): Promise<readonly ChangeRecord[]> {
    const held = this.readHeld(afterSeq, limit);
    if (held) return held;
    const oldest = await oldestSequence(this.store);
    if (oldest > afterSeq + 1) throw new TooOld(oldest);
    // Never past what the window holds: the window is the one place that decides what "now" is for every stream.
    const rows = await this.store.readChanges({ afterSeq, limit, maxBytes: this.readBytes });
    return rows.filter((row) => row.seq <= this.latestSeen);
  }

  /**
   * The changes after `afterSeq` as `read` returns them, when the window holds them (undefined otherwise): at once, so
   * that a live stream's read of each turn costs no promise.
   */
  readHeld(afterSeq: number, limit: number): readonly ChangeRecord[] | undefined {
    if (afterSeq < this.windowStart) return undefined;
    if (afterSeq >= this.latestSeen) return [];
    // The streams woken by a turn mostly ask the same read: answered once per turn (one array, not one per stream).
    const last = this.lastHeld;
    if (last && last.afterSeq === afterSeq && last.limit === limit && last.latestSeen === this.latestSeen) return last.changes;
    const from = firstAfter(this.window, afterSeq);
    let to = from + 1;
    for (let bytes = this.sizes[from]!; to < this.window.length && to - from < limit; to++) {
      bytes += this.sizes[to]!;
      if (bytes > this.readBytes) break;
    }
    const changes = this.window.slice(from, to);
    this.lastHeld = { afterSeq, limit, latestSeen: this.latestSeen, changes };
    return changes;
  }

  /** Stops polling for good and wakes every waiting stream. */
  close(): void {
    this.closed = true;
    this.stop();
    this.wakeAll();
  }

  private wakeAll(): void {
    const woken = this.sleepers;
    this.sleepers = new Set();
    for (const wake of woken) wake();
  }

  private async start(): Promise<void> {
    // Whatever was read before nobody followed is stale: start a new window at the store's newest.
    const latest = await this.store.latestSequence();
    this.window = [];
    this.sizes = [];
    this.bytes = 0;
    this.windowStart = latest;
    this.latestSeen = latest;
    // The poller serves every stream: it runs outside the context of the Watch call that started it.
    this.timer = detached(() => setInterval(() => this.tick(), Math.min(TICK_MS, this.pollMs)));
    this.timer.unref();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.started = undefined;
  }

  /** Reads the log when a turn may start and there is (or may be) something new: a local commit, or a poll due. */
  private tick(): void {
    const now = performance.now();
    const written = this.store.writtenSequence ?? 0;
    const committed = written > this.latestSeen;
    if (committed) {
      if (this.waiting > this.latestSeen && written > this.waiting) this.busy = true;
      this.waiting = written;
    }
    if (now - this.lastTurn < this.interval) return;
    if (committed || now - this.lastPoll >= this.pollMs) void this.poll();
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    this.lastPoll = performance.now();
    let turned = false;
    try {
      for (;;) {
        const from = this.latestSeen;
        const rows = await this.store.readChanges({ afterSeq: from, limit: this.batchSize, maxBytes: this.readBytes });
        // A restart of the feed (nobody followed for a moment) moved the window meanwhile: these rows are not next.
        if (rows.length === 0 || from !== this.latestSeen) break;
        for (const row of rows) {
          const size = this.sizeOf(row);
          this.window.push(row);
          this.sizes.push(size);
          this.bytes += this.heldBytesOf(size);
        }
        this.latestSeen = rows.at(-1)!.seq;
        this.trim();
        this.lastTurn = performance.now();
        if (!turned) {
          turned = true;
          // The next turn's spacing: longer while commits keep coming, `turnMs` again once they did not.
          this.busyTurns = this.busy ? this.busyTurns + 1 : 0;
          if (this.busyTurns === 0) this.interval = this.turnMs;
          else if (this.busyTurns >= 2) this.interval = Math.min(this.interval * 2, this.busyTurnMs);
          this.busy = false;
        }
        this.wakeAll();
        if (rows.length < this.batchSize && this.bytesOf(rows) <= this.readBytes / 2) break;
      }
    } catch {
      // The store is unavailable for now: the next poll tries again, and the streams wait.
    } finally {
      this.polling = false;
    }
  }

  /** Drops the oldest changes until the window is within its bytes (streams behind it read the store). */
  private trim(): void {
    if (this.bytes <= this.windowBytes) return;
    let dropped = 0;
    while (dropped < this.window.length && this.bytes > this.windowBytes) this.bytes -= this.heldBytesOf(this.sizes[dropped++]!);
    this.windowStart = this.window[dropped - 1]!.seq;
    this.window = this.window.slice(dropped);
    this.sizes = this.sizes.slice(dropped);
  }

  private bytesOf(rows: readonly ChangeRecord[]): number {
    return rows.reduce((sum, row) => sum + this.sizeOf(row), 0);
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


