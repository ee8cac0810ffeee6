// Limits on connections, so that idle or unfinished ones cannot exhaust the process (issue 13: 2,500 held connections
// stayed open for minutes, ~20,000 used up the file descriptors), and so that one peer cannot hold what others need
// (issue 25: 4,096 held requests refused everyone). Both ports apply them; docs/operations.md lists them.
import net from "node:net";
import type { Logger } from "pino";

export interface ConnectionLimits {
  /** Open connections per port; more are refused at once (closed on accept). */
  maxConnections: number;
  /** Open connections per port from one address (IPv6: one /64); more from it are refused at once. */
  maxConnectionsPerAddress: number;
  /** From accept to a complete request head: the HTTP/1.1 headers, or the HTTP/2 preface and settings. */
  headersTimeoutMs: number;
  /** From a request's head to the end of its body. */
  requestTimeoutMs: number;
  /** A connection with no request in progress (keep-alive, an HTTP/2 session without streams) is closed after this. */
  idleTimeoutMs: number;
  /** A connection this old is told to go away (GOAWAY, `Connection: close`): it takes no new request. */
  maxConnectionAgeMs: number;
  /** After that, its requests in progress have this long to finish before it is closed. */
  maxConnectionAgeGraceMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 4096,
  maxConnectionsPerAddress: 256,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 120_000,
  maxConnectionAgeMs: 600_000,
  maxConnectionAgeGraceMs: 30_000,
};

/** Why a connection was refused on accept: the port's cap, or its address's. */
export type Refusal = "connections" | "per-address";

/** What a timer closed: a request head, a request body, an idle connection, or a connection at its maximum age. */
export type Phase = "headers" | "request" | "idle" | "age";

/** What happens to connections, for the metrics and the log. `peer` is `address:port`. */
export interface ConnectionObserver {
  opened(peer: string): void;
  closed(peer: string): void;
  refused(limit: Refusal, peer: string): void;
  timedOut(phase: Phase, peer: string): void;
}

export const NO_OBSERVER: ConnectionObserver = { opened() {}, closed() {}, refused() {}, timedOut() {} };

/** Both observers see every event. */
export function bothObservers(a: ConnectionObserver, b: ConnectionObserver): ConnectionObserver {
  return {
    opened: (peer) => (a.opened(peer), b.opened(peer)),
    closed: (peer) => (a.closed(peer), b.closed(peer)),
    refused: (limit, peer) => (a.refused(limit, peer), b.refused(limit, peer)),
    timedOut: (phase, peer) => (a.timedOut(phase, peer), b.timedOut(phase, peer)),
  };
}

/**
 * A debug line for each connection a limit refused or closed, with the peer and the reason: the metrics count them,
 * the log says who (at debug: a flood would otherwise write a line per connection); at trace, every connection
 * admitted and closed.
 */
export function loggedConnections(logger: Logger): ConnectionObserver {
  return {
    opened: (peer) => logger.trace({ peer }, "connection opened"),
    closed: (peer) => logger.trace({ peer }, "connection closed"),
    refused: (limit, peer) => logger.debug({ limit, peer }, "connection refused"),
    timedOut: (phase, peer) => logger.debug({ phase, peer }, "connection closed by a time-out"),
  };
}

export function peerOf(socket: { remoteAddress?: string; remotePort?: number }): string {
  return `${socket.remoteAddress ?? ""}:${socket.remotePort ?? ""}`;
}

/**
 * The key one peer's connections are counted under: an IPv4 address (also when written IPv4-mapped, ::ffff:a.b.c.d),
 * or an IPv6 address's /64 prefix, the block one host or subscriber is usually given (counting each IPv6 address
 * apart would let one host take the whole cap).
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!net.isIPv6(address)) return address;
  const [head, tail = ""] = address.split("::") as [string, string?];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  // An embedded IPv4 tail (a:b::1.2.3.4) takes two groups; only the first four groups matter, so it is one "0".
  const groups = address.includes("::") ? [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right] : left;
  return `${groups.slice(0, 4).map((g) => Number.parseInt(g, 16).toString(16)).join(":")}::/64`;
}

/**
 * Admission of new connections on `listener`: at most maxConnections at once (Node closes the ones over it on
 * accept) and at most maxConnectionsPerAddress from one address; `admit` is the first thing the listener's connection
 * handler calls.
 */
export class ConnectionGate {
  private readonly perAddress = new Map<string, number>();

  constructor(
    listener: net.Server,
    private readonly limits: Pick<ConnectionLimits, "maxConnections" | "maxConnectionsPerAddress">,
    private readonly observer: ConnectionObserver,
  ) {
    listener.maxConnections = limits.maxConnections;
    listener.on("drop", (data?: { remoteAddress?: string; remotePort?: number }) => observer.refused("connections", peerOf(data ?? {})));
  }

  /** Counts `socket` and returns true; or closes it and returns false when its address holds the most it may. */
  admit(socket: net.Socket): boolean {
    const key = addressKey(socket.remoteAddress ?? "");
    const held = this.perAddress.get(key) ?? 0;
    if (held >= this.limits.maxConnectionsPerAddress) {
      this.observer.refused("per-address", peerOf(socket));
      socket.destroy();
      return false;
    }
    this.perAddress.set(key, held + 1);
    const peer = peerOf(socket);
    this.observer.opened(peer);
    socket.once("close", () => {
      const left = this.perAddress.get(key)! - 1;
      if (left === 0) this.perAddress.delete(key);
      else this.perAddress.set(key, left);
      this.observer.closed(peer);
    });
    return true;
  }
}

/** One timer per connection (or stream): each phase (headers, request, idle) replaces the previous one. */
export class Deadlines<K extends object> {
  private readonly timers = new WeakMap<K, { timer: NodeJS.Timeout; phase: Phase }>();

  constructor(
    private readonly observer: ConnectionObserver,
    private readonly peer: (key: K) => string,
  ) {}

  /** After `ms`, unless disarmed or re-armed before, reports a time-out of `phase` and calls `expire`. */
  arm(key: K, ms: number, phase: Phase, expire: () => void): void {
    this.disarm(key);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.observer.timedOut(phase, this.peer(key));
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

/** ±10% of `ms`, so that connections opened together (after a restart) do not all reach their maximum age together. */
export function jittered(ms: number): number {
  return ms * (0.9 + Math.random() * 0.2);
}
