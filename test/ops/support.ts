// Helpers of the operations tests: the server as a child process, `buf curl`, Prometheus text, unique names.
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { Health } from "../../gen/health/v1/health_pb.js";
import { AccessService } from "../../gen/policy/v1/access_service_pb.js";
import { PolicyService } from "../../gen/policy/v1/policy_service_pb.js";
import { ResourceService } from "../../gen/policy/v1/resource_service_pb.js";
export { expectCode, failureOf } from "../helpers/errors.js";
export { REPO_ROOT, spawnServer, type ChildServer } from "../helpers/child-server.js";
import { REPO_ROOT } from "../helpers/child-server.js";

export const BUF = join(REPO_ROOT, "node_modules/.bin/buf");

/** Every call of these tests carries a deadline, so that nothing can hang. */
export const CALL_TIMEOUT_MS = 15_000;

/** The services of the API, as reflection and health name them. */
export const API_SERVICES = ["policy.v1.PolicyService", "policy.v1.ResourceService", "policy.v1.AccessService"];

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "policy-ops-"));
}

let counter = 0;
/** A resource id no other test in this process uses. */
export function uniqueId(prefix = "r"): string {
  return `${prefix}${process.pid}x${++counter}`;
}

export interface ApiClients {
  policies: Client<typeof PolicyService>;
  resources: Client<typeof ResourceService>;
  access: Client<typeof AccessService>;
  health: Client<typeof Health>;
}

export type TransportKind = "grpc" | "connect" | "connect-h1" | "grpc-web";

/** Connect-es clients of every service at `baseUrl` (e.g. http://127.0.0.1:8080) over `kind`, with default deadlines. */
export function apiClients(baseUrl: string, kind: TransportKind = "grpc"): ApiClients {
  const common = { baseUrl, defaultTimeoutMs: CALL_TIMEOUT_MS };
  const transport =
    kind === "grpc"
      ? createGrpcTransport(common)
      : kind === "grpc-web"
        ? createGrpcWebTransport({ ...common, httpVersion: "2" })
        : createConnectTransport({ ...common, httpVersion: kind === "connect-h1" ? "1.1" : "2" });
  return {
    policies: createClient(PolicyService, transport),
    resources: createClient(ResourceService, transport),
    access: createClient(AccessService, transport),
    health: createClient(Health, transport),
  };
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
