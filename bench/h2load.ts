// Drives load with h2load (Debian's nghttp2-client): a C client, so the load does not compete with Node for the
// server's cores the way a Node client would. Each request is one unary call with a fixed body.
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";

const run = promisify(execFile);

export type Protocol = "grpc" | "connect";

export interface LoadResult {
  requests: number;
  failed: number;
  rps: number;
  p50ms: number;
  p99ms: number;
}

export interface LoadOptions {
  connections: number;
  streams: number;
  seconds: number;
  warmupSeconds: number;
}

/** Writes the request body for `protocol`: gRPC frames it (5-byte prefix), Connect sends the bare message. */
export function writeBody<T extends DescMessage>(dir: string, name: string, schema: T, init: MessageInitShape<T>, protocol: Protocol): string {
  const message = toBinary(schema, create(schema, init));
  const body = protocol === "grpc" ? Buffer.concat([frameHeader(message.length), message]) : Buffer.from(message);
  const file = join(dir, `${name}.${protocol}.bin`);
  writeFileSync(file, body);
  return file;
}

function frameHeader(length: number): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(length, 1);
  return header;
}

export async function h2load(url: string, body: string, protocol: Protocol, options: LoadOptions, logFile: string): Promise<LoadResult> {
  const headers =
    protocol === "grpc" ? ["-H", "content-type: application/grpc", "-H", "te: trailers"] : ["-H", "content-type: application/proto"];
  const { stdout } = await run(
    "h2load",
    [
      "-c", String(options.connections),
      "-m", String(options.streams),
      "-D", String(options.seconds),
      "--warm-up-time", String(options.warmupSeconds),
      ...headers,
      "-d", body,
      "--log-file", logFile,
      url,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const done = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(stdout);
  const rps = /finished in [\d.]+s, ([\d.]+) req\/s/.exec(stdout);
  if (!done || !rps) throw new Error(`unexpected h2load output:\n${stdout}`);
  const durations = readFileSync(logFile, "utf8")
    .trim()
    .split("\n")
    .map((line) => Number(line.split("\t")[2]) / 1000)
    .filter((ms) => Number.isFinite(ms))
    .sort((a, b) => a - b);
  const pct = (p: number) => durations[Math.min(durations.length - 1, Math.floor((p / 100) * durations.length))] ?? NaN;
  return {
    requests: Number(done[3]),
    failed: Number(done[4]) + Number(done[5]),
    rps: Number(rps[1]),
    p50ms: pct(50),
    p99ms: pct(99),
  };
}
