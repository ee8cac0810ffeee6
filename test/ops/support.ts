// Helpers of the operations tests: the server as a child process, `buf curl`, Prometheus text, unique names.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { expect } from "vitest";
import { REPO_ROOT } from "../helpers/child-server.js";
import { apiClients as clientsAt, CALL_TIMEOUT_MS, type ApiClients, type Protocol } from "../helpers/clients.js";
export { REPO_ROOT, spawnServer, type ChildServer } from "../helpers/child-server.js";
export { CALL_TIMEOUT_MS, type ApiClients, type Protocol } from "../helpers/clients.js";
export { expectCode, failureOf } from "../helpers/call-failures.js";
export { uniqueId } from "../helpers/ids.js";
export { removeDir, tempDir } from "../helpers/temp-dir.js";

export const BUF = join(REPO_ROOT, "node_modules/.bin/buf");

/** The services of the API, as reflection and health name them. */
export const API_SERVICES = ["policy.v1.PolicyService", "policy.v1.ResourceService", "policy.v1.AccessService"];

/** Clients of every service at `baseUrl` (e.g. http://127.0.0.1:8080) over `protocol`; every call has a deadline. */
export function apiClients(baseUrl: string, protocol: Protocol = "grpc"): ApiClients {
  return clientsAt(baseUrl, { protocol, timeoutMs: CALL_TIMEOUT_MS });
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded); never rejects. */
export function run(file: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve) =>
    execFile(file, args, { cwd: REPO_ROOT, timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({
        code: error ? (typeof error.code === "number" ? error.code : null) : 0,
        stdout: String(stdout),
        stderr: String(stderr),
      }),
    ),
  );
}

/** `buf curl` with server reflection (no --schema), gRPC over HTTP/2 prior knowledge. */
export function bufCurl(args: string[]): Promise<RunResult> {
  return run(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--connect-timeout", "10", ...args], 30_000);
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** # TYPE of each metric family. */
  types: Map<string, string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/y;

/** Parses Prometheus text exposition format 0.0.4; throws on a line that is not valid. */
export function parsePrometheus(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (type) types.set(type[1]!, type[2]!);
      else if (!/^# HELP \S+ /.test(line) && !/^# HELP \S+$/.test(line)) throw new Error(`bad comment line: ${line}`);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`bad sample line: ${line}`);
    const labels: Record<string, string> = {};
    const body = match[2] ?? "";
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const at = LABEL.lastIndex;
      const label = LABEL.exec(body);
      if (!label) throw new Error(`bad labels at ${at} in: ${line}`);
      labels[label[1]!] = label[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    }
    // Values are Go floats (Prometheus parses them with strconv.ParseFloat): NaN and Inf in any case.
    const raw = match[3]!.toLowerCase();
    const value = /^[+]?inf$/.test(raw) ? Infinity : raw === "-inf" ? -Infinity : raw === "nan" ? NaN : Number(raw);
    if (Number.isNaN(value) && raw !== "nan") throw new Error(`bad value in: ${line}`);
    samples.push({ name: match[1]!, labels, value });
  }
  return { samples, types };
}

/** The sum of the samples named `name` whose labels include `labels`. */
export function sum(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  return exposition.samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

export async function scrape(baseUrl: string): Promise<{ contentType: string; exposition: Exposition; text: string }> {
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
  expect(res.status).toBe(200);
  const text = await res.text();
  return { contentType: res.headers.get("content-type") ?? "", exposition: parsePrometheus(text), text };
}
