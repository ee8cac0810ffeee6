// What a server's port speaks, asked only after a call failed in a way a protocol mismatch explains (a stream
// cancelled or a connection reset with no answer, a bare HTTP 403): TLS or clear text, and whether it answers HTTP/1.1
// (the Connect protocol) or HTTP/2 alone (the gRPC-only port). Two short connections; nothing is sent but a TLS hello
// and an HTTP/1.1 `GET /`.
import net from "node:net";
import tls from "node:tls";

export interface PortFacts {
  /** The port completes a TLS handshake. */
  tls: boolean;
  /** The port answers HTTP/1.1 (over TLS: it offers `http/1.1` by ALPN); false: HTTP/2 alone. */
  http1: boolean;
}

const PROBE_TIMEOUT_MS = 2_000;

/** TLS with ALPN `http/1.1`: true/false for HTTP/1.1 if the handshake is TLS's, undefined if the port is not TLS. */
function tlsHttp1(host: string, port: number): Promise<{ tls: boolean; http1: boolean } | "unreachable"> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] });
    socket.setTimeout(PROBE_TIMEOUT_MS, () => socket.destroy(new Error("timeout")));
    socket.once("secureConnect", () => {
      // No ALPN answer at all: an HTTP/1.1 server that knows nothing of ALPN.
      resolve({ tls: true, http1: socket.alpnProtocol === "http/1.1" || socket.alpnProtocol === false });
      socket.destroy();
    });
    socket.once("error", (error: Error & { code?: string }) => {
      socket.destroy();
      if (error.code === "ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL") resolve({ tls: true, http1: false });
      else if (/^ERR_SSL_|^EPROTO$/.test(error.code ?? "")) resolve({ tls: false, http1: false });
      else resolve("unreachable");
    });
  });
}

/** Whether a clear-text port answers an HTTP/1.1 request with an HTTP/1.1 response (not HTTP/2 frames). */
function cleartextHttp1(host: string, port: number): Promise<boolean | "unreachable"> {
  return new Promise((resolve) => {
    let answer = "";
    const socket = net.connect({ host, port }, () => socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    socket.setTimeout(PROBE_TIMEOUT_MS, () => socket.destroy());
    socket.on("data", (chunk: Buffer) => {
      answer += chunk.toString("latin1");
      if (answer.length >= 8) socket.destroy();
    });
    socket.once("error", () => resolve("unreachable"));
    socket.once("close", () => resolve(answer.startsWith("HTTP/1.")));
  });
}

/** What the port of `server` (an http:// or https:// URL) speaks; undefined when it cannot be reached. */
export async function probePort(server: string): Promise<PortFacts | undefined> {
  const url = new URL(server);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const overTls = await tlsHttp1(host, port);
  if (overTls === "unreachable") return undefined;
  if (overTls.tls) return overTls;
  const http1 = await cleartextHttp1(host, port);
  return http1 === "unreachable" ? undefined : { tls: false, http1 };
}
