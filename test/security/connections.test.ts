// Idle and unfinished connections cannot lock everyone out (issue 13, item 2): on both ports, with short configured
// timeouts, a connection that never completes its request head, its HTTP/2 preface or its body is closed, an idle
// keep-alive connection and an idle HTTP/2 session are closed, connections over --max-connections are refused and
// counted, and the protocol is decided only on enough bytes. Real sockets on 127.0.0.1, a bounded number of them.
import http2 from "node:http2";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";

const LIMITS = { headersTimeoutMs: 400, requestTimeoutMs: 600, idleTimeoutMs: 800, maxConnections: 40 };
/** Every time-out above has passed by then, with room for a slow machine. */
const CLOSED_WITHIN_MS = 4_000;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(LIMITS);
});
afterAll(() => server?.stop());

const PORTS = [
  ["main port", () => server.port],
  ["gRPC port", () => server.grpcPort],
] as const;

/** A connection to `port` that has sent `bytes`; resolves once connected. */
async function connect(port: number, bytes = ""): Promise<net.Socket> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  if (bytes) socket.write(bytes);
  return socket;
}

/** Milliseconds until the server closes `socket`; rejects if it is still open after CLOSED_WITHIN_MS. */
function closedBy(socket: net.Socket): Promise<number> {
  const started = Date.now();
  socket.resume();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the server did not close the connection")), CLOSED_WITHIN_MS);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

async function metric(name: string): Promise<string[]> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return text.split("\n").filter((line) => line.startsWith(name));
}

describe.each(PORTS)("the %s closes connections that do not complete a request", (_, port) => {
  test.each([
    ["silent", ""],
    ["half an HTTP/2 preface", "PRI * HTTP/2.0\r\n"],
  ])("%s", async (_, bytes) => {
    const socket = await connect(port(), bytes);
    expect(await closedBy(socket)).toBeGreaterThanOrEqual(LIMITS.headersTimeoutMs - 50);
  });
});

describe("the main port", () => {
  test("partial HTTP/1.1 headers, then nothing", async () => {
    expect(await closedBy(await connect(server.port, "POST /policy.v1.PolicyService/GetPolicy HTTP/1.1\r\nHost: 127.0.0.1\r\n"))).toBeLessThan(
      CLOSED_WITHIN_MS,
    );
  });

  test("headers trickled a byte at a time are cut at the headers timeout", async () => {
    const socket = await connect(server.port, "POST /policy.v1.PolicyService/GetPolicy HTTP/1.1\r\nX-Slow: ");
    const drip = setInterval(() => socket.write("a"), 100);
    try {
      expect(await closedBy(socket)).toBeGreaterThanOrEqual(LIMITS.headersTimeoutMs - 150);
    } finally {
      clearInterval(drip);
    }
  });

  test("a body that never arrives: 408, and the connection closed", async () => {
    const socket = await connect(
      server.port,
      "POST /policy.v1.PolicyService/GetPolicy HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    );
    let received = "";
    socket.on("data", (d: Buffer) => (received += d.toString()));
    await closedBy(socket);
    expect(received).toMatch(/^HTTP\/1.1 408/);
  });

  test("an idle keep-alive connection is closed after the idle timeout", async () => {
    const socket = await connect(server.port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let received = "";
    socket.on("data", (d: Buffer) => (received += d.toString()));
    await closedBy(socket);
    expect(received).toMatch(/^HTTP\/1.1 200/);
  });

  test("an idle HTTP/2 session is closed after the idle timeout", async () => {
    const session = http2.connect(server.url);
    session.on("error", () => {});
    await new Promise<void>((resolve) => session.once("remoteSettings", () => resolve()));
    const started = Date.now();
    await new Promise<void>((resolve) => session.once("close", () => resolve()));
    expect(Date.now() - started).toBeLessThan(CLOSED_WITHIN_MS);
  });

  test("an HTTP/2 stream whose body never ends is cancelled after the request timeout", async () => {
    const session = http2.connect(server.url);
    session.on("error", () => {});
    const stream = session.request({
      ":method": "POST",
      ":path": "/policy.v1.PolicyService/GetPolicy",
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.on("error", () => {});
    stream.write(Buffer.from([0, 0, 0, 0, 10]));
    const code = await new Promise<number>((resolve) => stream.once("close", () => resolve(stream.rstCode)));
    expect(code).toBe(http2.constants.NGHTTP2_CANCEL);
    session.destroy();
  });

  test("a first segment of just `P` is not taken for HTTP/2: the rest of an HTTP/1.1 request is answered", async () => {
    const socket = await connect(server.port, "P");
    await new Promise((r) => setTimeout(r, 50));
    let received = "";
    socket.on("data", (d: Buffer) => (received += d.toString()));
    socket.write("OST /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    await closedBy(socket);
    expect(received).toMatch(/^HTTP\/1.1 404/);
  });
});

describe.each(PORTS)("the %s caps concurrent connections", (name, port) => {
  test("connections over --max-connections are closed on accept and counted; the port serves again after", async () => {
    const label = name === "main port" ? "main" : "grpc";
    const held = await Promise.all(Array.from({ length: LIMITS.maxConnections }, () => connect(port(), "")));
    const extra = await Promise.all(Array.from({ length: 5 }, () => connect(port())));
    await Promise.all(extra.map((s) => closedBy(s)));
    // The held ones reach the headers timeout; then the port accepts again.
    await Promise.all(held.map((s) => closedBy(s)));
    expect(await metric(`policy_refused_connections_total{port="${label}"}`)).toEqual([
      expect.stringMatching(/ ([5-9]|\d\d+)$/),
    ]);
    const again = await connect(port());
    again.destroy();
  });
});

test("the connection metrics count time-outs by phase", async () => {
  const lines = await metric("policy_timed_out_connections_total");
  expect(lines.some((l) => l.includes('phase="headers"'))).toBe(true);
  expect(lines.some((l) => l.includes('phase="idle"'))).toBe(true);
  expect(await metric('policy_open_connections{port="main"}')).toHaveLength(1);
});
