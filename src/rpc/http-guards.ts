// The main port's connection limits, phase by phase: the request head, each request's body, the idle wait between
// requests, and a connection's maximum age. http.Server's own timeouts do not apply to sockets handed over with
// emit("connection") (as both the protocol sniffer and the TLS front do), so each phase is timed here.
import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import { Deadlines, jittered, peerOf, type ConnectionLimits, type ConnectionObserver } from "./connection-limits.js";

// An HTTP/2 session shows its socket through a proxy; a property the proxy passes through leads back to the socket.
const SOCKET = Symbol("socket");

function socketOf(session: http2.Http2Session): net.Socket | undefined {
  const shown = session.socket as (net.Socket & { [SOCKET]?: net.Socket }) | undefined;
  return shown?.[SOCKET] ?? shown;
}

/** A connection must deliver a complete request head within the headers timeout. */
export function expectHeaders(deadlines: Deadlines<net.Socket>, socket: net.Socket, limits: ConnectionLimits): void {
  (socket as net.Socket & { [SOCKET]?: net.Socket })[SOCKET] = socket;
  deadlines.arm(socket, limits.headersTimeoutMs, "headers", () => socket.destroy());
  socket.once("close", () => deadlines.disarm(socket));
}

/** An HTTP/1.1 connection's requests in progress, and whether it takes more. */
interface Http1State {
  /** Its responses in progress. */
  responses: Set<http.ServerResponse>;
  /** Past its maximum age, or the server is shutting down: closed once its responses are sent. */
  retiring: boolean;
  /** Past its maximum age: closed at the end of the grace period whatever it is doing. */
  grace?: NodeJS.Timeout;
}

/**
 * The HTTP/1.1 connections of `server`: the head of each request, then its body, then the idle wait for the next, each
 * within its timeout; at the maximum age a connection takes no new request (`Connection: close` on the responses in
 * progress, then closed; closed at once when none is), and after the grace period it is closed whatever it is doing.
 */
export class Http1Connections {
  private readonly states = new Map<net.Socket, Http1State>();
  private readonly ages: Deadlines<net.Socket>;
  private closing = false;

  constructor(
    server: http.Server | http2.Http2SecureServer,
    private readonly deadlines: Deadlines<net.Socket>,
    private readonly limits: ConnectionLimits,
    observer: ConnectionObserver,
  ) {
    this.ages = new Deadlines<net.Socket>(observer, peerOf);
    server.on("request", (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
      if (req instanceof http.IncomingMessage && res instanceof http.ServerResponse) this.track(req, res);
    });
  }

  /** A connection that speaks HTTP/1.1 from now on: its age starts. */
  adopt(socket: net.Socket): void {
    const state: Http1State = { responses: new Set(), retiring: this.closing };
    this.states.set(socket, state);
    this.ages.arm(socket, jittered(this.limits.maxConnectionAgeMs), "age", () => {
      this.retire(socket, state);
      state.grace = setTimeout(() => socket.destroy(), this.limits.maxConnectionAgeGraceMs).unref();
    });
    socket.once("close", () => {
      this.states.delete(socket);
      this.ages.disarm(socket);
      clearTimeout(state.grace);
    });
  }

  /** Shutdown: closes idle connections now and busy ones once their responses are sent. */
  closeWhenIdle(): void {
    this.closing = true;
    for (const [socket, state] of this.states) this.retire(socket, state);
  }

  private retire(socket: net.Socket, state: Http1State): void {
    state.retiring = true;
    if (state.responses.size === 0) socket.destroy();
    for (const res of state.responses) if (!res.headersSent) res.setHeader("Connection", "close");
  }

  private track(req: http.IncomingMessage, res: http.ServerResponse): void {
    const socket = req.socket;
    const state = this.states.get(socket);
    if (!state) return;
    state.responses.add(res);
    if (state.retiring) res.setHeader("Connection", "close");
    const unfinished = () => {
      // 408 if nothing was answered yet; the connection cannot be reused either way.
      if (!res.headersSent) res.writeHead(408, { Connection: "close" }).end();
      socket.destroySoon();
    };
    if (!req.complete) {
      this.deadlines.arm(socket, this.limits.requestTimeoutMs, "request", unfinished);
      req.once("end", () => this.deadlines.disarm(socket, "request"));
    } else {
      this.deadlines.disarm(socket);
    }
    res.once("close", () => {
      state.responses.delete(res);
      if (state.responses.size > 0 || socket.destroyed) return;
      if (state.retiring) socket.destroy();
      else this.deadlines.arm(socket, this.limits.idleTimeoutMs, "idle", () => socket.destroy());
    });
  }
}

/**
 * The HTTP/2 sessions of `server`: settings within the headers timeout, each stream's request within the request
 * timeout, a session without streams closed after the idle timeout, and every session told to go away (GOAWAY: its
 * streams in progress finish, no new one starts) at the maximum age, then closed after the grace period.
 */
export function guardHttp2(
  server: http2.Http2Server | http2.Http2SecureServer,
  deadlines: Deadlines<net.Socket>,
  limits: ConnectionLimits,
  observer: ConnectionObserver,
): void {
  const streamDeadlines = new Deadlines<http2.ServerHttp2Stream>(observer, (stream) => peerOf(stream.session?.socket ?? {}));
  const ages = new Deadlines<http2.Http2Session>(observer, (session) => peerOf(socketOf(session) ?? {}));
  server.on("session", (session: http2.Http2Session) => {
    // Looked up when first needed (over TLS the session starts before the TLS socket's deadline is armed), and kept:
    // a closed session no longer shows its socket.
    let key: net.Socket | undefined;
    const socket = () => (key ??= socketOf(session));
    let open = 0;
    const idle = () => {
      const s = socket();
      if (s) deadlines.arm(s, limits.idleTimeoutMs, "idle", () => goAway(session, 1_000));
    };
    ages.arm(session, jittered(limits.maxConnectionAgeMs), "age", () => goAway(session, limits.maxConnectionAgeGraceMs));
    session.once("remoteSettings", () => {
      if (open === 0) idle();
    });
    session.on("stream", (stream: http2.ServerHttp2Stream) => {
      open++;
      const s = socket();
      if (s) deadlines.disarm(s);
      if (!stream.readableEnded && stream.state.remoteClose !== 1) {
        streamDeadlines.arm(stream, limits.requestTimeoutMs, "request", () => stream.close(http2.constants.NGHTTP2_CANCEL));
        stream.once("end", () => streamDeadlines.disarm(stream, "request"));
      }
      stream.once("close", () => {
        streamDeadlines.disarm(stream);
        if (--open === 0 && !session.destroyed && !session.closed) idle();
      });
    });
    session.once("close", () => {
      ages.disarm(session);
      if (key) deadlines.disarm(key);
    });
  });
}

/** GOAWAY (streams in progress finish), then the connection is closed after `graceMs` if it is still open. */
function goAway(session: http2.Http2Session, graceMs: number): void {
  session.close();
  const grace = setTimeout(() => session.destroy(), graceMs).unref();
  session.once("close", () => clearTimeout(grace));
}
