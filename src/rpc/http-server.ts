// The main port: one listener for gRPC, gRPC-Web and Connect over HTTP/2 (cleartext with prior knowledge, or TLS with
// ALPN) and HTTP/1.1 (so plain `curl` works).
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { RequestListener } from "node:http";

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

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0");

/** Concurrent streams one HTTP/2 connection may open, on either port (the gRPC port reads it too). */
export const MAX_CONCURRENT_STREAMS = 1000;

export function createMainServer(
  handler: RequestListener & ((req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void),
  tls: TlsFiles | undefined,
  graceMs: number,
): MainServer {
  const sessions = new Set<http2.Http2Session>();
  const settings = { maxConcurrentStreams: MAX_CONCURRENT_STREAMS };
  if (tls) {
    const secure = http2.createSecureServer(
      { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.ca !== undefined, rejectUnauthorized: false, allowHTTP1: true, settings },
      handler,
    );
    secure.on("session", (s) => trackSession(sessions, s));
    resetUnfinishedRequests(secure);
    closeAbandonedConnections(secure);
    const idle = trackIdleSockets(secure);
    return { server: secure, close: () => closeAll(secure, sessions, idle, graceMs) };
  }
  const h2 = http2.createServer({ settings }, handler);
  h2.on("session", (s) => trackSession(sessions, s));
  resetUnfinishedRequests(h2);
  const h1 = http.createServer(handler);
  closeAbandonedConnections(h1);
  const h1Idle = trackIdleSockets(h1);
  // Cleartext: the first bytes tell an HTTP/2 client (prior knowledge) from an HTTP/1.1 one.
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.once("data", (chunk) => {
      socket.pause();
      socket.unshift(chunk);
      const isHttp2 = chunk.subarray(0, HTTP2_PREFACE.length).equals(HTTP2_PREFACE.subarray(0, Math.min(chunk.length, HTTP2_PREFACE.length)));
      // Both servers take over a paused socket and read the unshifted bytes first.
      (isHttp2 ? h2 : h1).emit("connection", socket);
      if (!isHttp2) socket.resume();
    });
  });
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
