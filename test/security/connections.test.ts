// Idle, unfinished and held connections cannot lock everyone out (issue 13, item 2; issue 25, item 6). On both ports,
// with short configured limits: a connection that never completes its request head, its HTTP/2 preface or its body is
// closed; an idle keep-alive connection and an idle HTTP/2 session are closed; connections over --max-connections, and
// over --max-connections-per-address from one address, are refused and counted, while another address still gets
// through; a connection at its maximum age is told to go away and its calls in flight finish. What closed a connection
// is read from the server's own report (its debug log line and metrics), never from a clock. Real sockets on
// loopback (127.0.0.x: other addresses are other peers), a bounded number of them.
import http2 from "node:http2";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadConfig } from "../../src/config.js";
import { addressKey } from "../../src/rpc/connection-limits.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { capturingLogger, type CapturedLog, type LogLine } from "../helpers/secure-server.js";
import { WAIT_LIMIT_MS } from "../helpers/wait.js";

/** Every time-out configured below has passed long before then: the deadline only turns a hang into a failure. */
const CLOSED_WITHIN_MS = WAIT_LIMIT_MS;
/** Limits too long to be reached while a test runs. */
const NEVER = 600_000;

interface Served {
  server: TestServer;
  log: CapturedLog;
}

const servers: Served[] = [];
/** A server with `limits` whose log, down to trace (where connections are reported), is captured. */
async function serverWith(limits: Parameters<typeof startTestServer>[0]): Promise<Served> {
  const log = capturingLogger("trace");
  const served = { server: await startTestServer(limits, { logger: log.logger }), log };
  servers.push(served);
  return served;
}
afterAll(() => Promise.all(servers.map((s) => s.server.stop())));

type PortName = "main" | "grpc";
const PORTS = [
  ["main port", "main"],
  ["gRPC port", "grpc"],
] as const;

function portOf(server: TestServer, port: PortName): number {
  return port === "main" ? server.port : server.grpcPort;
}

/** Each connection or session as the server names its peer, `address:port` (kept: a closed one no longer shows it). */
const peers = new WeakMap<net.Socket | http2.ClientHttp2Session, string>();
function peerOf(connection: net.Socket | http2.ClientHttp2Session): string | undefined {
  return peers.get(connection);
}

/** A connection to `port` from `from` that has sent `bytes`; resolves once connected. */
async function connect(port: number, bytes = "", from = "127.0.0.1"): Promise<net.Socket> {
  const socket = net.connect({ port, host: "127.0.0.1", localAddress: from });
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  peers.set(socket, `${socket.localAddress}:${socket.localPort}`);
  if (bytes) socket.write(bytes);
  return socket;
}

/** Resolves when `what` happens; rejects, saying what did not happen, after CLOSED_WITHIN_MS. */
function within<T>(what: string, event: (resolve: (value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: not within ${CLOSED_WITHIN_MS} ms`)), CLOSED_WITHIN_MS);
    event((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/** Resolves once the server has closed `socket`. */
function closed(socket: net.Socket): Promise<void> {
  socket.resume();
  return within("the server did not close the connection", (done) => {
    if (socket.closed) done();
    else socket.once("close", () => done());
  });
}

/** The server's report of what it did to the connection from `peer` (a log line with `what`). */
function reported(log: CapturedLog, port: PortName, peer: string | undefined, what: Partial<LogLine>): Promise<LogLine> {
  return log.line((l) => l.port === port && l.peer === peer && Object.entries(what).every(([k, v]) => l[k] === v), CLOSED_WITHIN_MS);
}

/** Every time-out the server reported for the connection from `peer`, so far. */
function timeOutsOf(log: CapturedLog, port: PortName, peer: string | undefined): unknown[] {
  return log.lines.filter((l) => l.port === port && l.peer === peer && l.phase !== undefined).map((l) => l.phase);
}


async function session(server: TestServer, port: PortName, from = "127.0.0.1"): Promise<http2.ClientHttp2Session> {
  const address = { host: "127.0.0.1", port: portOf(server, port) };
  const s = http2.connect(`http://127.0.0.1:${address.port}`, { createConnection: () => net.connect({ ...address, localAddress: from }) });
  s.on("error", () => {});
  await within("no HTTP/2 session", (done) => s.once("remoteSettings", () => done(undefined)));
  peers.set(s, `${s.socket.localAddress}:${s.socket.localPort}`);
  return s;
}

interface GrpcResult {
  status: string | undefined;
  message: string | undefined;
  /** RST_STREAM's code, when the stream was reset (NGHTTP2_NO_ERROR if not). */
  rstCode: number;
}

/** A Health/Check on `session` whose request message (2 bytes: an empty `service`) has only its 5-byte prefix sent. */
function heldHealthCheck(session: http2.ClientHttp2Session): { finish(): void; result: Promise<GrpcResult> } {
  const stream = session.request({
    ":method": "POST",
    ":path": "/grpc.health.v1.Health/Check",
    "content-type": "application/grpc",
    te: "trailers",
  });
  stream.on("error", () => {});
  stream.write(Buffer.from([0, 0, 0, 0, 2]));
  let status: string | undefined;
  let message: string | undefined;
  const read = (headers: http2.IncomingHttpHeaders) => {
    status ??= headers["grpc-status"] as string | undefined;
    message ??= headers["grpc-message"] as string | undefined;
  };
  stream.on("response", read).on("trailers", read);
  stream.resume();
  // Ended by the server's END_STREAM (with a status) or by a reset, whichever comes first.
  const result = within<GrpcResult>("the call did not end", (done) => {
    const ended = () => done({ status, message: message && decodeURIComponent(message), rstCode: stream.rstCode ?? 0 });
    stream.once("end", ended).once("close", ended);
  });
  return { finish: () => stream.end(Buffer.from([0x0a, 0x00])), result };
}

/** A whole Health/Check on `session`: its grpc-status. */
async function healthCheck(session: http2.ClientHttp2Session): Promise<string | undefined> {
  const call = heldHealthCheck(session);
  call.finish();
  return (await call.result).status;
}

/** A Connect Health/Check over HTTP/1.1 on a kept-alive `socket`: the response's head. */
function http1HealthCheck(socket: net.Socket): Promise<string> {
  let received = "";
  const onData = (d: Buffer) => (received += d.toString());
  socket.on("data", onData);
  socket.write("POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
  return within("no HTTP/1.1 response", (done) => {
    const check = () => {
      if (!received.includes("SERVING")) return;
      socket.off("data", onData).off("data", check);
      done(received);
    };
    socket.on("data", check);
  });
}

describe("time-outs", () => {
  const LIMITS = { headersTimeoutMs: 400, requestTimeoutMs: 600, idleTimeoutMs: 800 };
  let s: Served;
  beforeAll(async () => {
    s = await serverWith(LIMITS);
  });

  async function metric(name: string): Promise<string[]> {
    const text = await (await fetch(`${s.server.url}/metrics`)).text();
    return text.split("\n").filter((line) => line.startsWith(name));
  }

  describe.each(PORTS)("the %s closes connections that do not complete a request head", (_, port) => {
    test.each([
      ["silent", ""],
      ["half an HTTP/2 preface", "PRI * HTTP/2.0\r\n"],
    ])("%s: closed by the headers timeout", async (_, bytes) => {
      const socket = await connect(portOf(s.server, port), bytes);
      await closed(socket);
      await reported(s.log, port, peerOf(socket), { phase: "headers" });
      expect(timeOutsOf(s.log, port, peerOf(socket))).toEqual(["headers"]);
    });
  });

  describe("the main port", () => {
    test("partial HTTP/1.1 headers, then nothing: closed by the headers timeout", async () => {
      const socket = await connect(s.server.port, "POST /policy.v1.PolicyService/GetPolicy HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      await closed(socket);
      expect(timeOutsOf(s.log, "main", peerOf(socket))).toEqual(["headers"]);
    });

    test("headers trickled a byte at a time are cut by the headers timeout", async () => {
      const socket = await connect(s.server.port, "POST /policy.v1.PolicyService/GetPolicy HTTP/1.1\r\nX-Slow: ");
      // Sending, not waiting: the client keeps the head coming, slower than the timeout allows.
      const drip = setInterval(() => socket.write("a"), 100);
      try {
        await closed(socket);
      } finally {
        clearInterval(drip);
      }
      expect(timeOutsOf(s.log, "main", peerOf(socket))).toEqual(["headers"]);
    });

    test("a body that never arrives: 408, and the connection closed by the request timeout", async () => {
      const socket = await connect(
        s.server.port,
        "POST /policy.v1.PolicyService/GetPolicy HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
      );
      let received = "";
      socket.on("data", (d: Buffer) => (received += d.toString()));
      await closed(socket);
      expect(received).toMatch(/^HTTP\/1.1 408/);
      expect(timeOutsOf(s.log, "main", peerOf(socket))).toEqual(["request"]);
    });

    test("an idle keep-alive connection is closed by the idle timeout", async () => {
      const socket = await connect(s.server.port);
      expect(await http1HealthCheck(socket)).toMatch(/^HTTP\/1.1 200/);
      await closed(socket);
      expect(timeOutsOf(s.log, "main", peerOf(socket))).toEqual(["idle"]);
    });

    test("an idle HTTP/2 session is closed by the idle timeout", async () => {
      const h2 = await session(s.server, "main");
      await within("the idle session was not closed", (done) => h2.once("close", () => done(undefined)));
      expect(timeOutsOf(s.log, "main", peerOf(h2))).toEqual(["idle"]);
    });

    test("a first segment of just `P` is not taken for HTTP/2: the rest of an HTTP/1.1 request is answered", async () => {
      const socket = await connect(s.server.port);
      // The `P` goes out alone, in its own segment (no Nagle, flushed before the rest is written); were the two to
      // arrive together the test would still hold.
      socket.setNoDelay(true);
      await new Promise<void>((resolve, reject) => socket.write("P", (e) => (e ? reject(e) : resolve())));
      let received = "";
      socket.on("data", (d: Buffer) => (received += d.toString()));
      socket.write("OST /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      await closed(socket);
      expect(received).toMatch(/^HTTP\/1.1 404/);
    });
  });

  describe.each(PORTS)("the %s cuts a request whose body never ends", (_, port) => {
    test("at the request timeout; other calls get through meanwhile", async () => {
      const held = await session(s.server, port);
      const call = heldHealthCheck(held);
      const other = await session(s.server, port, "127.0.0.2");
      expect(await healthCheck(other)).toBe("0");
      const result = await call.result;
      // The main port resets the stream; the gRPC port ends the call with a status naming the limit.
      if (port === "main") expect(result.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
      else expect(result).toMatchObject({ status: "1", message: expect.stringContaining("--request-timeout-ms") });
      await reported(s.log, port, peerOf(held), { phase: "request" });
      held.destroy();
      other.destroy();
    });
  });

  test("the connection metrics count time-outs by phase", async () => {
    const silent = await connect(s.server.port);
    const unfinished = await connect(
      s.server.port,
      "POST /policy.v1.PolicyService/GetPolicy HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    );
    const idle = await connect(s.server.port);
    await http1HealthCheck(idle);
    await Promise.all([silent, unfinished, idle].map((socket) => closed(socket)));
    const lines = await metric("policy_timed_out_connections_total");
    for (const phase of ["headers", "request", "idle"]) expect(lines.some((l) => l.includes(`phase="${phase}"`))).toBe(true);
    expect(await metric('policy_open_connections{port="main"}')).toHaveLength(1);
  });
});

describe.each(PORTS)("the %s caps concurrent connections", (_, port) => {
  const MAX = 40;
  let s: Served;
  beforeAll(async () => {
    // Its own server: no other test's connection counts towards the cap.
    s = await serverWith({ maxConnections: MAX, maxConnectionsPerAddress: 10 });
  });

  test("connections over --max-connections are closed on accept and counted; the port serves again after", async () => {
    // From four addresses, each within its own cap (10): the port's cap is what refuses the next ones.
    const held = await Promise.all(Array.from({ length: MAX }, (_, i) => session(s.server, port, `127.0.0.${10 + (i % 4)}`)));
    const extra = await Promise.all(Array.from({ length: 5 }, () => connect(portOf(s.server, port), "", "127.0.0.14")));
    await Promise.all(extra.map((socket) => closed(socket)));
    for (const socket of extra) await reported(s.log, port, peerOf(socket), { limit: "connections" });
    // Once the server has seen the held ones go, the port serves again.
    for (const h of held) h.destroy();
    await Promise.all(held.map((h) => reported(s.log, port, peerOf(h), { msg: "connection closed" })));
    const again = await session(s.server, port, "127.0.0.14");
    expect(await healthCheck(again)).toBe("0");
    again.destroy();
    const text = await (await fetch(`${s.server.url}/metrics`)).text();
    expect(text).toContain(`policy_refused_connections_total{port="${port}",limit="connections"} 5\n`);
  });
});

describe.each(PORTS)("the %s: one address cannot take the port", (_, port) => {
  const PER_ADDRESS = 4;
  let s: Served;
  beforeAll(async () => {
    s = await serverWith({ maxConnectionsPerAddress: PER_ADDRESS });
  });

  test("connections over --max-connections-per-address from one address are refused; another address gets through", async () => {
    // Each holds an unfinished request, as a flood would.
    const flood = await Promise.all(Array.from({ length: PER_ADDRESS }, () => session(s.server, port, "127.0.0.3")));
    const held = flood.map((h) => heldHealthCheck(h));
    const refused = await connect(portOf(s.server, port), "", "127.0.0.3");
    await closed(refused);
    await reported(s.log, port, peerOf(refused), { limit: "per-address" });
    const other = await session(s.server, port, "127.0.0.4");
    expect(await healthCheck(other)).toBe("0");
    // The held calls were not disturbed: they complete.
    for (const call of held) call.finish();
    expect((await Promise.all(held.map((c) => c.result))).map((r) => r.status)).toEqual(flood.map(() => "0"));
    for (const h of [...flood, other]) h.destroy();
  });
});

describe("maximum connection age", () => {
  let lasting: Served;
  let cut: Served;
  beforeAll(async () => {
    const common = { requestTimeoutMs: NEVER, idleTimeoutMs: NEVER, maxConnectionAgeMs: 300 };
    [lasting, cut] = await Promise.all([
      serverWith({ ...common, maxConnectionAgeGraceMs: NEVER }),
      serverWith({ ...common, maxConnectionAgeGraceMs: 300 }),
    ]);
  });

  test.each(PORTS)("the %s tells an HTTP/2 connection to go away at its maximum age; the call in flight finishes", async (_, port) => {
    const h2 = await session(lasting.server, port);
    const call = heldHealthCheck(h2);
    const code = await within<number>("no GOAWAY", (done) => h2.once("goaway", (errorCode: number) => done(errorCode)));
    expect(code).toBe(http2.constants.NGHTTP2_NO_ERROR);
    call.finish();
    expect(await call.result).toMatchObject({ status: "0" });
    await within("the connection stayed open", (done) => (h2.closed ? done(undefined) : h2.once("close", () => done(undefined))));
    if (port === "main") expect(timeOutsOf(lasting.log, port, peerOf(h2))).toEqual(["age"]);
  });

  test.each(PORTS)("the %s closes it at the end of the grace period, calls in flight or not", async (_, port) => {
    const h2 = await session(cut.server, port);
    const call = heldHealthCheck(h2);
    await within("no GOAWAY", (done) => h2.once("goaway", () => done(undefined)));
    expect((await call.result).status).toBeUndefined();
  });

  test("the main port answers an HTTP/1.1 request in flight at the maximum age with `Connection: close`, then closes", async () => {
    const socket = await connect(
      lasting.server.port,
      "POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{",
    );
    let received = "";
    socket.on("data", (d: Buffer) => (received += d.toString()));
    await reported(lasting.log, "main", peerOf(socket), { phase: "age" });
    socket.write("}");
    await closed(socket);
    expect(received).toMatch(/^HTTP\/1.1 200[^]*\r\nConnection: close\r\n[^]*SERVING/i);
  });
});

// The idle timeout is its own: a connection that completed a call and then waits is not closed when the headers
// timeout (much shorter) has passed. Two silent connections opened one after the other, after that call, are each closed
// by the headers timeout: by then that time has passed twice since the waiting connection became idle, and it still works.
describe("the idle timeout is not the headers timeout", () => {
  let s: Served;
  beforeAll(async () => {
    s = await serverWith({ headersTimeoutMs: 150, idleTimeoutMs: NEVER });
  });

  async function headersTimeoutPassedTwice(port: PortName): Promise<void> {
    for (let i = 0; i < 2; i++) {
      const silent = await connect(portOf(s.server, port));
      await closed(silent);
      await reported(s.log, port, peerOf(silent), { phase: "headers" });
    }
  }

  test.each(PORTS)("the %s: an idle HTTP/2 connection outlives the headers timeout", async (_, port) => {
    const h2 = await session(s.server, port);
    expect(await healthCheck(h2)).toBe("0");
    await headersTimeoutPassedTwice(port);
    expect(h2.closed).toBe(false);
    expect(await healthCheck(h2)).toBe("0");
    h2.destroy();
  });

  test("the main port: an idle HTTP/1.1 keep-alive connection outlives the headers timeout", async () => {
    const socket = await connect(s.server.port);
    expect(await http1HealthCheck(socket)).toMatch(/^HTTP\/1.1 200/);
    await headersTimeoutPassedTwice("main");
    expect(await http1HealthCheck(socket)).toMatch(/^HTTP\/1.1 200/);
    socket.destroy();
  });
});

describe("the flags", () => {
  test("per-address cap, maximum age and its grace are flags with defaults; each must be a positive whole number", () => {
    const config = loadConfig(
      ["--max-connections-per-address", "8", "--max-connection-age-ms", "60000", "--max-connection-age-grace-ms", "5000"],
      {},
    );
    expect(config).toMatchObject({ maxConnectionsPerAddress: 8, maxConnectionAgeMs: 60_000, maxConnectionAgeGraceMs: 5_000 });
    expect(loadConfig([], {})).toMatchObject({ maxConnectionsPerAddress: 256, maxConnectionAgeMs: 600_000, maxConnectionAgeGraceMs: 30_000 });
    expect(loadConfig([], { POLICY_MAX_CONNECTIONS_PER_ADDRESS: "3" })).toMatchObject({ maxConnectionsPerAddress: 3 });
    for (const flag of ["--max-connections-per-address", "--max-connection-age-ms", "--max-connection-age-grace-ms"]) {
      expect(() => loadConfig([flag, "0"], {})).toThrow(`${flag}: "0" is not a positive whole number`);
    }
  });

  test("one address's connections are counted together: an IPv4 address (also IPv4-mapped), an IPv6 /64", () => {
    expect(addressKey("192.0.2.7")).toBe("192.0.2.7");
    expect(addressKey("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(addressKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:0db8:0001:0002:bbbb:cccc:dddd:eeee")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey("fe80::1:2:3:4")).toBe("fe80:0:0:0::/64");
  });
});
