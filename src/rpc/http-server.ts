// The main port: one listener for gRPC, gRPC-Web and Connect over HTTP/2 (cleartext with prior knowledge, or TLS with
// ALPN) and HTTP/1.1 (so plain `curl` works).
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { RequestListener } from "node:http";
import type { TLSSocket } from "node:tls";
import {
  DEFAULT_CONNECTION_LIMITS,
  Deadlines,
  NO_OBSERVER,
  capConnections,
  type ConnectionLimits,
  type ConnectionObserver,
} from "./connection-limits.js";

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  /** CA of client certificates: requested, and verified (an unverified one is ignored, not trusted). */
  ca?: Buffer;
}

export interface MainServer {
  server: net.Server;
  /** Ends idle connections and stops accepting new ones; in-flight requests finish. */
  close(): Promise<void>;
}

/** The whole client connection preface (RFC 9113 section 3.4): no HTTP/1.1 request starts with it. */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Concurrent streams one HTTP/2 connection may open, on either port (the gRPC port reads it too). */
export const MAX_CONCURRENT_STREAMS = 1000;

export function createMainServer(
  handler: RequestListener & ((req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void),
  tls: TlsFiles | undefined,
  graceMs: number,
  limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
  observer: ConnectionObserver = NO_OBSERVER,
): MainServer {
  const sessions = new Set<http2.Http2Session>();
  const settings = { maxConcurrentStreams: MAX_CONCURRENT_STREAMS };
  const deadlines = new Deadlines<net.Socket>(observer);
  if (tls) {
    const secure = http2.createSecureServer(
      { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.ca !== undefined, rejectUnauthorized: false, allowHTTP1: true, settings },
      handler,
    );
    secure.on("session", (s) => trackSession(sessions, s));
    resetUnfinishedRequests(secure);
    closeAbandonedConnections(secure);
    const idle = trackIdleSockets(secure);
    capConnections(secure, limits.maxConnections, observer);
    // The handshake counts towards the request head: the raw socket's deadline passes to the TLS socket.
    secure.on("connection", (socket: net.Socket) => expectHeaders(deadlines, socket, limits));
    secure.on("secureConnection", (socket: TLSSocket) => {
      const raw = (socket as unknown as { _parent?: net.Socket })._parent;
      if (raw) deadlines.disarm(raw);
      expectHeaders(deadlines, socket, limits);
    });
    guardHttp1(secure, deadlines, limits);
    guardHttp2(secure, deadlines, limits, observer);
    return { server: secure, close: () => closeAll(secure, sessions, idle, graceMs) };
  }
  const h2 = http2.createServer({ settings }, handler);
  h2.on("session", (s) => trackSession(sessions, s));
  resetUnfinishedRequests(h2);
  guardHttp2(h2, deadlines, limits, observer);
  const h1 = http.createServer(handler);
  closeAbandonedConnections(h1);
  const h1Idle = trackIdleSockets(h1);
  guardHttp1(h1, deadlines, limits);
  // Cleartext: the first bytes tell an HTTP/2 client (prior knowledge) from an HTTP/1.1 one. Decide only once they
  // do: bytes that could still be the start of the preface (a lone `P`) are not enough.
  const server = net.createServer({ noDelay: true }, (socket) => {
    expectHeaders(deadlines, socket, limits);
    let received: Buffer = Buffer.alloc(0);
    const sniff = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const n = Math.min(received.length, HTTP2_PREFACE.length);
      const couldBeHttp2 = received.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
      if (couldBeHttp2 && received.length < HTTP2_PREFACE.length) return;
      socket.off("data", sniff);
      socket.pause();
      socket.unshift(received);
      // Both servers take over a paused socket and read the unshifted bytes first.
      (couldBeHttp2 ? h2 : h1).emit("connection", socket);
      if (!couldBeHttp2) socket.resume();
    };
    socket.on("data", sniff);
  });
  capConnections(server, limits.maxConnections, observer);
  const sockets = new Set<net.Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  return { server, close: () => closeAll(server, sessions, h1Idle, graceMs, sockets) };
}

// A call refused before its request body was read (e.g. RESOURCE_EXHAUSTED for a message over readMaxBytes) leaves the
// client's half of the HTTP/2 stream open: the client stops sending but does not end the stream, so the stream never
// closes and a graceful shutdown waits for it (until the grace period runs out). As RFC 9113 section 8.1 allows, once
// the response is complete tell the client to stop with RST_STREAM(NO_ERROR). The compat layer sends trailers from a
// setImmediate queued in its own "wantTrailers" listener, which runs before this one, so the trailers go out first.
// Node destroys a stream closed with NO_ERROR only once its readable side ends, so the unread body is discarded too.
function resetUnfinishedRequests(server: http2.Http2Server | http2.Http2SecureServer): void {
  server.on("request", (req: http2.Http2ServerRequest | http.IncomingMessage) => {
    if (!(req instanceof http2.Http2ServerRequest)) return;
    const stream = req.stream;
    stream.once("wantTrailers", () =>
      setImmediate(() => {
        if (stream.closed || stream.destroyed || stream.state.remoteClose === 1) return;
        stream.close(http2.constants.NGHTTP2_NO_ERROR);
        stream.removeAllListeners("data");
        stream.resume();
      }),
    );
  });
}

// Over HTTP/1.1 the same refusal leaves the connection unusable: the handler gives up on the request body, Node stops
// reading the socket, and the client's next request on that keep-alive connection is never read (it fails with
// ECONNRESET when the keep-alive timeout closes the socket). Such a response says `Connection: close` instead.
function closeAbandonedConnections(server: http.Server | http2.Http2SecureServer): void {
  server.on("request", (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
    if (!(req instanceof http.IncomingMessage) || !(res instanceof http.ServerResponse)) return;
    const socket = req.socket;
    // "aborted" (unlike "close") is emitted at once when the request is given up, before the response headers.
    req.once("aborted", () => {
      if (!res.headersSent) res.setHeader("Connection", "close");
      else res.once("finish", () => socket.destroySoon());
    });
  });
}

// An HTTP/2 session shows its socket through a proxy; a property the proxy passes through leads back to the socket.
const SOCKET = Symbol("socket");

function socketOf(session: http2.Http2Session): net.Socket | undefined {
  const shown = session.socket as (net.Socket & { [SOCKET]?: net.Socket }) | undefined;
  return shown?.[SOCKET] ?? shown;
}

/** A connection must deliver a complete request head within the headers timeout. */
function expectHeaders(deadlines: Deadlines<net.Socket>, socket: net.Socket, limits: ConnectionLimits): void {
  (socket as net.Socket & { [SOCKET]?: net.Socket })[SOCKET] = socket;
  deadlines.arm(socket, limits.headersTimeoutMs, "headers", () => socket.destroy());
  socket.once("close", () => deadlines.disarm(socket));
}

// http.Server's headersTimeout and requestTimeout do not apply to sockets handed over with emit("connection"), so
// the phases of each HTTP/1.1 connection are timed here: the head, then the body, then the idle wait for the next.
function guardHttp1(server: http.Server | http2.Http2SecureServer, deadlines: Deadlines<net.Socket>, limits: ConnectionLimits): void {
  const inFlight = new WeakMap<net.Socket, number>();
  server.on("request", (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
    if (req.httpVersionMajor !== 1) return;
    const socket = req.socket as net.Socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    const unfinished = () => {
      // 408 if nothing was answered yet; the connection cannot be reused either way.
      if (!res.headersSent) (res as http.ServerResponse).writeHead(408, { Connection: "close" }).end();
      socket.destroySoon();
    };
    if (!(req as http.IncomingMessage).complete) {
      deadlines.arm(socket, limits.requestTimeoutMs, "request", unfinished);
      req.once("end", () => deadlines.disarm(socket, "request"));
    } else {
      deadlines.disarm(socket);
    }
    res.once("close", () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (left === 0 && !socket.destroyed) deadlines.arm(socket, limits.idleTimeoutMs, "idle", () => socket.destroy());
    });
  });
}

// An HTTP/2 connection: its settings within the headers timeout, each stream's request within the request timeout,
// and a session without streams closed after the idle timeout.
function guardHttp2(
  server: http2.Http2Server | http2.Http2SecureServer,
  deadlines: Deadlines<net.Socket>,
  limits: ConnectionLimits,
  observer: ConnectionObserver,
): void {
  const streamDeadlines = new Deadlines<http2.ServerHttp2Stream>(observer);
  server.on("session", (session: http2.Http2Session) => {
    // Looked up when first needed (over TLS the session starts before the TLS socket's deadline is armed), and kept:
    // a closed session no longer shows its socket.
    let key: net.Socket | undefined;
    const socket = () => (key ??= socketOf(session));
    let open = 0;
    const idle = () => {
      const s = socket();
      if (s) deadlines.arm(s, limits.idleTimeoutMs, "idle", () => closeSession(session));
    };
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
        if (--open === 0 && !session.destroyed) idle();
      });
    });
    session.once("close", () => {
      if (key) deadlines.disarm(key);
    });
  });
}

/** GOAWAY, then the connection is closed once the client has seen it (or at once, if it does not answer). */
function closeSession(session: http2.Http2Session): void {
  session.close();
  setTimeout(() => session.destroy(), 1_000).unref();
}

function trackSession(sessions: Set<http2.Http2Session>, session: http2.Http2Session): void {
  sessions.add(session);
  session.once("close", () => sessions.delete(session));
}

interface IdleSockets {
  /** Destroys idle HTTP/1.1 keep-alive sockets now, and busy ones once their response is sent. */
  closeWhenIdle(): void;
}

// http.Server#closeIdleConnections does not see sockets handed over with emit("connection"), so count requests.
function trackIdleSockets(server: http.Server | http2.Http2SecureServer): IdleSockets {
  const busy = new Map<net.Socket, number>();
  let closing = false;
  server.on("request", (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
    if (req.httpVersionMajor !== 1) return;
    const socket = req.socket as net.Socket;
    // One close listener per socket, not per request: a keep-alive connection carries many requests.
    if (!busy.has(socket)) socket.once("close", () => busy.delete(socket));
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    res.once("close", () => {
      if (!busy.has(socket)) return;
      const left = busy.get(socket)! - 1;
      busy.set(socket, left);
      if (closing && left === 0) socket.destroy();
    });
  });
  return {
    closeWhenIdle() {
      closing = true;
      for (const [socket, count] of busy) if (count === 0) socket.destroy();
    },
  };
}

/** Stops accepting, lets in-flight requests finish, and after `graceMs` closes whatever is still open. */
async function closeAll(
  listener: net.Server,
  sessions: Set<http2.Http2Session>,
  http1: IdleSockets,
  graceMs: number,
  sockets: Set<net.Socket> = new Set(),
): Promise<void> {
  const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
  for (const session of sessions) session.close();
  http1.closeWhenIdle();
  const force = setTimeout(() => {
    for (const session of sessions) session.destroy();
    for (const socket of sockets) socket.destroy();
  }, graceMs);
  await closed;
  clearTimeout(force);
}
