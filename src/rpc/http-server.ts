// The main port: one listener for gRPC, gRPC-Web and Connect over HTTP/2 (cleartext with prior knowledge, or TLS with
// ALPN) and HTTP/1.1 (so plain `curl` works).
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { RequestListener } from "node:http";
import type { TLSSocket } from "node:tls";
import {
  ConnectionGate,
  DEFAULT_CONNECTION_LIMITS,
  Deadlines,
  NO_OBSERVER,
  peerOf,
  type ConnectionLimits,
  type ConnectionObserver,
} from "./connection-limits.js";
import { Http1Connections, expectHeaders, guardHttp2 } from "./http-guards.js";

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
  const deadlines = new Deadlines<net.Socket>(observer, peerOf);
  let http1: Http1Connections;
  let serve: (socket: net.Socket) => void;
  if (tls) {
    const secure = http2.createSecureServer(
      { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.ca !== undefined, rejectUnauthorized: false, allowHTTP1: true, settings },
      handler,
    );
    secure.on("session", (s) => trackSession(sessions, s));
    resetUnfinishedRequests(secure);
    closeAbandonedConnections(secure);
    http1 = new Http1Connections(secure, deadlines, limits, observer);
    // The handshake counts towards the request head: the raw socket's deadline passes to the TLS socket.
    secure.on("secureConnection", (socket: TLSSocket) => {
      const raw = (socket as unknown as { _parent?: net.Socket })._parent;
      if (raw) deadlines.disarm(raw);
      expectHeaders(deadlines, socket, limits);
      if (socket.alpnProtocol !== "h2") http1.adopt(socket);
    });
    guardHttp2(secure, deadlines, limits, observer);
    serve = (socket) => secure.emit("connection", socket);
  } else {
    const h2 = http2.createServer({ settings }, handler);
    h2.on("session", (s) => trackSession(sessions, s));
    resetUnfinishedRequests(h2);
    guardHttp2(h2, deadlines, limits, observer);
    const h1 = http.createServer(handler);
    closeAbandonedConnections(h1);
    http1 = new Http1Connections(h1, deadlines, limits, observer);
    serve = (socket) => sniffProtocol(socket, h2, h1, http1);
  }
  // One listener in front of either: it admits connections (the caps) and starts their head's deadline.
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    if (!gate.admit(socket)) return;
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    expectHeaders(deadlines, socket, limits);
    serve(socket);
  });
  const gate = new ConnectionGate(server, limits, observer);
  return { server, close: () => closeAll(server, sessions, http1, graceMs, sockets) };
}

// Cleartext: the first bytes tell an HTTP/2 client (prior knowledge) from an HTTP/1.1 one. Decide only once they do:
// bytes that could still be the start of the preface (a lone `P`) are not enough.
function sniffProtocol(socket: net.Socket, h2: http2.Http2Server, h1: http.Server, http1: Http1Connections): void {
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
    if (couldBeHttp2) {
      h2.emit("connection", socket);
    } else {
      http1.adopt(socket);
      h1.emit("connection", socket);
      socket.resume();
    }
  };
  socket.on("data", sniff);
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

function trackSession(sessions: Set<http2.Http2Session>, session: http2.Http2Session): void {
  sessions.add(session);
  session.once("close", () => sessions.delete(session));
}

/** Stops accepting, lets in-flight requests finish, and after `graceMs` closes whatever is still open. */
async function closeAll(
  listener: net.Server,
  sessions: Set<http2.Http2Session>,
  http1: Http1Connections,
  graceMs: number,
  sockets: Set<net.Socket>,
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
