// The main port: one listener for gRPC, gRPC-Web and Connect over HTTP/2 (cleartext with prior knowledge, or TLS with
// ALPN) and HTTP/1.1 (so plain `curl` works).
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { RequestListener } from "node:http";

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

export interface MainServer {
  server: net.Server;
  /** Ends idle connections and stops accepting new ones; in-flight requests finish. */
  close(): Promise<void>;
}

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0");

export function createMainServer(handler: RequestListener & ((req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void), tls?: TlsFiles): MainServer {
  const sessions = new Set<http2.Http2Session>();
  if (tls) {
    const secure = http2.createSecureServer({ cert: tls.cert, key: tls.key, allowHTTP1: true }, handler);
    secure.on("session", (s) => trackSession(sessions, s));
    return { server: secure, close: () => closeAll(secure, sessions, [secure]) };
  }
  const h2 = http2.createServer({}, handler);
  h2.on("session", (s) => trackSession(sessions, s));
  const h1 = http.createServer(handler);
  // Cleartext: the first bytes tell an HTTP/2 client (prior knowledge) from an HTTP/1.1 one.
  const server = net.createServer((socket) => {
    socket.once("data", (chunk) => {
      socket.pause();
      socket.unshift(chunk);
      const isHttp2 = chunk.subarray(0, HTTP2_PREFACE.length).equals(HTTP2_PREFACE.subarray(0, Math.min(chunk.length, HTTP2_PREFACE.length)));
      // Both servers take over a paused socket and read the unshifted bytes first.
      (isHttp2 ? h2 : h1).emit("connection", socket);
      if (!isHttp2) socket.resume();
    });
  });
  return { server, close: () => closeAll(server, sessions, [h1]) };
}

function trackSession(sessions: Set<http2.Http2Session>, session: http2.Http2Session): void {
  sessions.add(session);
  session.once("close", () => sessions.delete(session));
}

async function closeAll(listener: net.Server, sessions: Set<http2.Http2Session>, http1: (http.Server | http2.Http2SecureServer)[]): Promise<void> {
  const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
  for (const session of sessions) session.close();
  for (const server of http1) if ("closeIdleConnections" in server) server.closeIdleConnections();
  await closed;
}
