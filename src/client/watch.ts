// watch(): follows the Watch stream as an async iterable that survives disconnects: after a failure that a retry
// can fix (the server restarting, the network) it resumes after the last sequence it delivered, with exponential
// backoff and jitter, so the caller sees every change once, in order. Errors a retry cannot fix are thrown:
// OUT_OF_RANGE (resume point no longer retained: resync), INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED.
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  WatchService,
  type Change,
  type WatchRequestSchema,
  type WatchResponse,
} from "../../gen/policy/v1/watch_service_pb.js";

export interface WatchOptions extends Omit<MessageInitShape<typeof WatchRequestSchema>, "afterSequence" | "$typeName"> {
  /** Resume after this sequence; unset: start now (the first event is then a progress event). */
  afterSequence?: bigint;
  /** Stops the iteration (it then ends without error). */
  signal?: AbortSignal;
  /** Backoff between reconnects: starts at `initialMs` (default 100), doubles up to `maxMs` (default 10000). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Called before each reconnect, with the error and the delay. */
  onReconnect?: (error: ConnectError, delayMs: number) => void;
}

/** A change, or the stream's position while nothing matched. */
export type WatchEvent = { kind: "change"; change: Change; sequence: bigint } | { kind: "progress"; sequence: bigint };

const FATAL = new Set([Code.OutOfRange, Code.InvalidArgument, Code.Unauthenticated, Code.PermissionDenied, Code.Unimplemented]);

export async function* watch(client: Client<typeof WatchService>, options: WatchOptions = {}): AsyncGenerator<WatchEvent> {
  const { afterSequence, signal, backoff, onReconnect, ...filters } = options;
  const initialMs = backoff?.initialMs ?? 100;
  const maxMs = backoff?.maxMs ?? 10_000;
  let position = afterSequence;
  let delay = initialMs;
  while (!signal?.aborted) {
    try {
      const stream = client.watch({ ...filters, ...(position === undefined ? {} : { afterSequence: position }) }, { signal });
      for await (const message of stream as AsyncIterable<WatchResponse>) {
        delay = initialMs;
        const event = eventOf(message);
        if (!event) continue;
        position = event.sequence;
        yield event;
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

function eventOf(message: WatchResponse): WatchEvent | undefined {
  switch (message.event.case) {
    case "change":
      return { kind: "change", change: message.event.value, sequence: message.event.value.sequence };
    case "progress":
      return { kind: "progress", sequence: message.event.value.sequence };
    default:
      return undefined;
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
