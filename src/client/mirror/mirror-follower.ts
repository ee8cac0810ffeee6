// The mirror's loop: loads a Snapshot of the scope, follows Watch of the scope's root after the snapshot's sequence
// (batched when the server batches, one change per message when it does not), re-snapshots when Watch says the history
// it needs is gone (OUT_OF_RANGE) or a change leaves it without state, reconnects with backoff, wakes the checks
// waiting for a sequence, and acknowledges as a sync consumer. What it holds is read by mirror.ts, which answers.
import { Code, ConnectError } from "@connectrpc/connect";
import type { WatchResponse } from "../../../gen/policy/v1/watch_service_pb.js";
import type { PolicyClient } from "../client.js";
import { ensureConsumer } from "../consumer.js";
import { MirrorState } from "./mirror-state.js";

export interface FollowerOptions {
  client: PolicyClient;
  /** The subtree mirrored, e.g. `organizations/acme` (its ancestors come with it). */
  scope: string;
  /** How often an idle Watch stream confirms the mirror is current (the staleness floor). Default 1000 ms. */
  progressIntervalMs?: number;
  /** Snapshot page size. Default: the server's (500). */
  snapshotPageSize?: number;
  /**
   * Register as this sync consumer (`consumers/{id}`, created with the mirror's scope when absent) and acknowledge
   * what the mirror applied, so that sync status means "applied at this enforcement point".
   */
  consumer?: string;
  /** Acknowledge at most this often. Default 200 ms. */
  ackIntervalMs?: number;
  /** Backoff between reconnects: from `initialMs` (default 100) doubling to `maxMs` (default 5000). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Called when the stream fails (before a reconnect), a re-snapshot starts, or a snapshot is loaded. */
  onEvent?: (event: FollowerEvent) => void;
}

export type FollowerEvent =
  | { kind: "disconnected"; error: ConnectError; retryInMs: number }
  | { kind: "resnapshot"; reason: string }
  | { kind: "snapshot"; sequence: bigint; resources: number; ms: number };

/** Codes a reconnect does not fix: the first snapshot fails with them; later, they are retried at the slowest pace. */
const LASTING = new Set([Code.Unauthenticated, Code.PermissionDenied, Code.InvalidArgument, Code.Unimplemented, Code.NotFound]);

export class MirrorFollower {
  /** Resolves once the first snapshot is loaded; rejects when it cannot be (a lasting error). */
  readonly ready: Promise<void>;
  /** The state answers are read from; undefined until the first snapshot. Swapped whole by a re-snapshot. */
  state: MirrorState | undefined;
  /** performance.now() when the server was last heard from (a message, a snapshot). */
  lastHeard = -Infinity;
  connected = false;
  resnapshots = 0;
  private needsSnapshot = true;
  private waiters: { target: bigint; resolve: (reached: boolean) => void }[] = [];
  private readonly closing = new AbortController();
  private readonly running: Promise<void>;
  private lastAck = 0;
  private acked = -1n;

  constructor(private readonly options: FollowerOptions) {
    let started!: () => void;
    let failed!: (e: unknown) => void;
    this.ready = new Promise<void>((resolve, reject) => ((started = resolve), (failed = reject)));
    this.ready.catch(() => undefined);
    this.running = this.follow(started, failed);
  }

  sequence(): bigint {
    return this.state?.sequence ?? 0n;
  }

  /** Resolves true once the state reaches `target`, false after `timeoutMs` (or on close). */
  waitFor(target: bigint, timeoutMs: number): Promise<boolean> {
    if (this.sequence() >= target) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        target,
        resolve: (reached: boolean) => {
          clearTimeout(timer);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  async close(): Promise<void> {
    this.closing.abort();
    for (const waiter of this.waiters) waiter.resolve(false);
    this.waiters = [];
    await this.running;
  }

  private async follow(started: () => void, failed: (e: unknown) => void): Promise<void> {
    const { client } = this.options;
    const initialMs = this.options.backoff?.initialMs ?? 100;
    const maxMs = this.options.backoff?.maxMs ?? 5000;
    let delay = initialMs;
    let first = true;
    if (this.options.consumer) {
      try {
        await ensureConsumer(client, { name: this.options.consumer, subtree: this.options.scope, displayName: `policy mirror of ${this.options.scope}` });
      } catch (e) {
        failed(e);
        return;
      }
    }
    while (!this.closing.signal.aborted) {
      const stream = new AbortController();
      const stop = () => stream.abort();
      this.closing.signal.addEventListener("abort", stop, { once: true });
      try {
        if (this.needsSnapshot) {
          await this.snapshot();
          if (first) started(), (first = false);
        }
        const state = this.state!;
        const progress = this.options.progressIntervalMs ?? 1000;
        const messages = client.watch.watch(
          {
            afterSequence: state.sequence,
            subtree: state.watchRoot(),
            batch: true,
            progressInterval: { seconds: BigInt(Math.floor(progress / 1000)), nanos: (progress % 1000) * 1_000_000 },
          },
          { signal: stream.signal },
        );
        for await (const message of messages as AsyncIterable<WatchResponse>) {
          this.connected = true;
          this.lastHeard = performance.now();
          delay = initialMs;
          await this.receive(message);
          if (this.needsSnapshot) break;
        }
      } catch (e) {
        this.connected = false;
        if (this.closing.signal.aborted) break;
        const error = ConnectError.from(e);
        if (error.code === Code.OutOfRange) {
          this.resnapshot(`the change log no longer holds the changes after ${this.sequence()}: ${error.rawMessage}`);
          continue;
        }
        if (first && LASTING.has(error.code)) {
          failed(error);
          return;
        }
        const wait = delay / 2 + Math.random() * (delay / 2);
        this.options.onEvent?.({ kind: "disconnected", error, retryInMs: wait });
        await sleep(LASTING.has(error.code) ? maxMs : wait, this.closing.signal);
        delay = Math.min(maxMs, delay * 2);
      } finally {
        this.closing.signal.removeEventListener("abort", stop);
        stream.abort();
      }
    }
    this.connected = false;
  }

  private resnapshot(reason: string): void {
    this.needsSnapshot = true;
    this.resnapshots++;
    this.options.onEvent?.({ kind: "resnapshot", reason });
  }

  /** Loads a new state from a snapshot, then swaps it in: answers come from the old state meanwhile. */
  private async snapshot(): Promise<void> {
    const started = performance.now();
    const next = new MirrorState(this.options.scope);
    for await (const page of this.options.client.snapshots.snapshot(
      { subtree: this.options.scope, pageSize: this.options.snapshotPageSize ?? 0 },
      { signal: this.closing.signal },
    )) {
      next.addSnapshotPage(page);
    }
    this.state = next;
    this.needsSnapshot = false;
    this.lastHeard = performance.now();
    this.options.onEvent?.({ kind: "snapshot", sequence: next.sequence, resources: next.size.resources, ms: performance.now() - started });
    this.settle();
  }

  private async receive(message: WatchResponse): Promise<void> {
    const state = this.state!;
    const event = message.event;
    if (event.case === "change" || event.case === "batch") {
      const changes = event.case === "change" ? [event.value] : event.value.changes;
      for (const change of changes) {
        if (change.sequence <= state.sequence) continue;
        const outcome = state.apply(change);
        if (outcome === "resnapshot") {
          this.resnapshot(`change ${change.sequence} (${change.resource}) needs state the mirror does not hold`);
          return;
        }
        if (outcome !== "applied") {
          // A binding to a shared policy created before the snapshot and bound after: its content, read now.
          try {
            state.learnSharedPolicy(await this.options.client.sharedPolicies.getSharedPolicy({ name: outcome.needsSharedPolicy }));
          } catch (e) {
            // Deleted since: its unbinding follows; meanwhile the targets' chains are incomplete (answered by the RPC).
            if (ConnectError.from(e).code !== Code.NotFound) throw e;
          }
          state.advance(change.sequence);
        }
      }
      if (event.case === "batch") state.advance(event.value.lastSequence);
    } else if (event.case === "progress") {
      state.advance(event.value.sequence);
    }
    this.settle();
  }

  /** Wakes the checks waiting for a sequence the mirror reached, and acknowledges as a sync consumer. */
  private settle(): void {
    const sequence = this.sequence();
    if (this.waiters.length > 0) {
      const waiting: typeof this.waiters = [];
      for (const waiter of this.waiters) (waiter.target <= sequence ? waiter.resolve(true) : waiting.push(waiter));
      this.waiters = waiting;
    }
    const consumer = this.options.consumer;
    if (consumer && sequence > this.acked && performance.now() - this.lastAck >= (this.options.ackIntervalMs ?? 200)) {
      this.lastAck = performance.now();
      this.acked = sequence;
      this.options.client.sync.acknowledgeChanges({ consumer, sequence }).catch((e: unknown) => {
        this.acked = -1n;
        this.options.onEvent?.({ kind: "disconnected", error: ConnectError.from(e), retryInMs: 0 });
      });
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
