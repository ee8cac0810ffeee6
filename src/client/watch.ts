// watch(): follows the Watch stream as an async iterable that survives disconnects: after a failure that a retry
// can fix (the server restarting, the network) it resumes after the last sequence it delivered, with exponential
// backoff and jitter, so the caller sees every change once, in order. Errors a retry cannot fix are thrown:
// OUT_OF_RANGE (resume point no longer retained: resync), INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED.
// It asks for batches (one message per delivery turn: fewer messages for the server to send) unless `batch: false`,
// and hands out one event per change either way; a batch that covers more of the log than its last change is
// followed by a progress event at its last sequence. A stream cut off for falling behind (RESOURCE_EXHAUSTED) is
// resumed like a disconnect.
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  WatchService,
  type Change,
  type WatchRequestSchema,
  type WatchResponse,
} from "../../gen/policy/v1/watch_service_pb.js";

export interface WatchOptions extends Omit<MessageInitShape<typeof WatchRequestSchema>, "afterSequence" | "batch" | "$typeName"> {
  /** Ask the server for batches (default true; a server from before batches ignores it and sends single changes). */
  batch?: boolean;
  /** Resume after this sequence; unset: start now (the first event is then a progress event). */
  afterSequence?: bigint;
  /** Stops the iteration (it then ends without error). */
  signal?: AbortSignal;
  /** Backoff between reconnects: starts at `initialMs` (default 100), doubles up to `maxMs` (default 10000). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Called before each reconnect, with the error and the delay. */
  onReconnect?: (error: ConnectError, delayMs: number) => void;
}

/**
 * A change, or the stream's position while nothing matched. `endOfBatch` marks the last change of a delivery turn
 * (always true without batches): a follower that applies changes may publish its state there.
 */
export type WatchEvent =
  | { kind: "change"; change: Change; sequence: bigint; endOfBatch: boolean }
  | { kind: "progress"; sequence: bigint };

const FATAL = new Set([Code.OutOfRange, Code.InvalidArgument, Code.Unauthenticated, Code.PermissionDenied, Code.Unimplemented]);

export async function* watch(client: Client<typeof WatchService>, options: WatchOptions = {}): AsyncGenerator<WatchEvent> {
  const { afterSequence, signal, backoff, onReconnect, batch = true, ...filters } = options;
  const initialMs = backoff?.initialMs ?? 100;
  const maxMs = backoff?.maxMs ?? 10_000;
  let position = afterSequence;
  let delay = initialMs;
  while (!signal?.aborted) {
    try {
      const stream = client.watch({ ...filters, batch, ...(position === undefined ? {} : { afterSequence: position }) }, { signal });
      for await (const message of stream as AsyncIterable<WatchResponse>) {
        delay = initialMs;
        for (const event of eventsOf(message)) {
          position = event.sequence;
          yield event;
        }
      }
    } catch (e) {
      if (signal?.aborted) return;
      const error = ConnectError.from(e);
      if (FATAL.has(error.code)) throw error;
      const wait = delay / 2 + Math.random() * (delay / 2);
      onReconnect?.(error, wait);
      await sleep(wait, signal);
      delay = Math.min(maxMs, delay * 2);
    }
  }
}

/** The events of one message: a change, a progress, or a batch's changes (and its position past them). */
export function eventsOf(message: WatchResponse): WatchEvent[] {
  switch (message.event.case) {
    case "change":
      return [{ kind: "change", change: message.event.value, sequence: message.event.value.sequence, endOfBatch: true }];
    case "progress":
      return [{ kind: "progress", sequence: message.event.value.sequence }];
    case "batch": {
      const { changes, lastSequence } = message.event.value;
      const events: WatchEvent[] = changes.map((change, i) => ({
        kind: "change",
        change,
        sequence: change.sequence,
        endOfBatch: i === changes.length - 1,
      }));
      if (lastSequence > (changes.at(-1)?.sequence ?? 0n)) events.push({ kind: "progress", sequence: lastSequence });
      return events;
    }
    default:
      return [];
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
