// Limits on connections, so that idle or unfinished ones cannot exhaust the process (issue 13: 2,500 held connections
// stayed open for minutes, ~20,000 used up the file descriptors). Both ports apply them; docs/operations.md lists them.
import type net from "node:net";

export interface ConnectionLimits {
  /** Open connections per port; more are refused at once (closed on accept). */
  maxConnections: number;
  /** From accept to a complete request head: the HTTP/1.1 headers, or the HTTP/2 preface and settings. */
  headersTimeoutMs: number;
  /** From a request's head to the end of its body. */
  requestTimeoutMs: number;
  /** A connection with no request in progress (keep-alive, an HTTP/2 session without streams) is closed after this. */
  idleTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 4096,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 120_000,
};

/** What happens to connections, for the metrics. */
export interface ConnectionObserver {
  opened(): void;
  closed(): void;
  refused(): void;
  timedOut(phase: Phase): void;
}

export const NO_OBSERVER: ConnectionObserver = { opened() {}, closed() {}, refused() {}, timedOut() {} };

/** Caps `listener`'s connections at `max` (Node closes the ones over it on accept) and counts them. */
export function capConnections(listener: net.Server, max: number, observer: ConnectionObserver): void {
  listener.maxConnections = max;
  listener.on("drop", () => observer.refused());
  listener.on("connection", (socket: net.Socket) => {
    observer.opened();
    socket.once("close", () => observer.closed());
  });
}

/** One timer per connection: each phase (headers, request, idle) replaces the previous one. */
type Phase = "headers" | "request" | "idle";

export class Deadlines<K extends object> {
  private readonly timers = new WeakMap<K, { timer: NodeJS.Timeout; phase: Phase }>();

  constructor(private readonly observer: ConnectionObserver) {}

  /** After `ms`, unless disarmed or re-armed before, counts a time-out of `phase` and calls `expire`. */
  arm(key: K, ms: number, phase: Phase, expire: () => void): void {
    this.disarm(key);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.observer.timedOut(phase);
      expire();
    }, ms);
    timer.unref();
    this.timers.set(key, { timer, phase });
  }

  /** Stops the timer of `key` (only if it times `phase`, when given). */
  disarm(key: K, phase?: Phase): void {
    const armed = this.timers.get(key);
    if (!armed || (phase !== undefined && armed.phase !== phase)) return;
    clearTimeout(armed.timer);
    this.timers.delete(key);
  }
}
