// `npm run bench:watch`: Watch on a server in a child process (loopback only, bounded in time):
//  - write-to-delivery latency p50/p99 with 1, 100 and 1,000 concurrent watchers (from the SetPolicy call to the
//    change's arrival at every watcher);
//  - write throughput with 100 watchers as a ratio of throughput with none, in the same run (target >= 0.9);
//  - memory per idle watcher (server RSS growth / watchers).
// Results go to stdout and docs/benchmarks.md (the "Watch" section).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { PolicyService } from "../gen/policy/v1/policy_service_pb.js";
import { ResourceService } from "../gen/policy/v1/resource_service_pb.js";
import { WatchService } from "../gen/policy/v1/watch_service_pb.js";
import { spawnServer } from "../test/helpers/child-server.js";
import { writeDocSection } from "./doc-section.js";

const WATCHERS_PER_CONNECTION = 250;
const LATENCY_WRITES = 40;
const THROUGHPUT_SECONDS = 4;
const CONCURRENT_WRITES = 16;

const dir = mkdtempSync(join(tmpdir(), "policy-bench-watch-"));
const server = await spawnServer(join(dir, "policy.db"), ["--log-level", "silent"]);
const pid = server.process.pid!;
const transport = createGrpcTransport({ baseUrl: server.url });
const policies = createClient(PolicyService, transport);
const resources = createClient(ResourceService, transport);

function rssKb(): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

const policy = (member: string) => ({ bindings: [{ role: "roles/collaborator", members: [member] }] });

await resources.createResource({ resource: { name: "organizations/bench" } });
for (let i = 0; i < 10; i++) await resources.createResource({ resource: { name: `projects/b${i}`, parent: "organizations/bench" } });

interface Watchers {
  /** Resolves when every watcher has its first message (the stream is open). */
  ready: Promise<void>;
  onChange: (handler: (member: string) => void) => void;
  close(): Promise<void>;
}

function openWatchers(count: number): Watchers {
  const abort = new AbortController();
  const clients: Client<typeof WatchService>[] = [];
  for (let i = 0; i < Math.ceil(count / WATCHERS_PER_CONNECTION); i++) {
    clients.push(createClient(WatchService, createGrpcTransport({ baseUrl: server.url })));
  }
  let handler: (member: string) => void = () => undefined;
  let opened = 0;
  let allOpen!: () => void;
  const ready = new Promise<void>((r) => (allOpen = count === 0 ? (r(), r) : r));
  const streams = Array.from({ length: count }, async (_, i) => {
    try {
      let first = true;
      for await (const m of clients[i % clients.length]!.watch({ progressInterval: { seconds: 3600n } }, { signal: abort.signal })) {
        if (first && ++opened === count) allOpen();
        first = false;
        if (m.event.case === "change" && m.event.value.policy) handler(m.event.value.policy.bindings[0]!.members[0]!);
      }
    } catch {
      // aborted
    }
  });
  return {
    ready,
    onChange: (h) => (handler = h),
    async close() {
      abort.abort();
      await Promise.all(streams);
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function latency(count: number): Promise<{ p50: number; p99: number }> {
  const watchers = openWatchers(count);
  await watchers.ready;
  const sent = new Map<string, number>();
  const arrivals = new Map<string, number>();
  const samples: number[] = [];
  watchers.onChange((member) => {
    const start = sent.get(member);
    if (start === undefined) return;
    samples.push(performance.now() - start);
    arrivals.set(member, (arrivals.get(member) ?? 0) + 1);
  });
  for (let i = 0; i < LATENCY_WRITES; i++) {
    const member = `user:l${count}x${i}@example.com`;
    sent.set(member, performance.now());
    await policies.setPolicy({ resource: `projects/b${i % 10}`, policy: policy(member) });
    await new Promise((r) => setTimeout(r, 30 + Math.random() * 40));
  }
  const deadline = Date.now() + 10_000;
  while (samples.length < LATENCY_WRITES * count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await watchers.close();
  if (samples.length < LATENCY_WRITES * count) throw new Error(`only ${samples.length} of ${LATENCY_WRITES * count} deliveries arrived`);
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

async function throughput(): Promise<number> {
  let writes = 0;
  const end = performance.now() + THROUGHPUT_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENT_WRITES }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        await policies.setPolicy({ resource: `projects/b${w % 10}`, policy: policy(`user:t${w}x${i}@example.com`) });
        writes++;
      }
    }),
  );
  return writes / THROUGHPUT_SECONDS;
}

const results: string[] = [];
const say = (line: string) => {
  console.log(line);
  results.push(line);
};

try {
  const latencies: [number, { p50: number; p99: number }][] = [];
  for (const count of [1, 100, 1000]) latencies.push([count, await latency(count)]);

  // Throughput: alternate runs without and with 100 watchers, so that drift (WAL growth, page cache) hits both.
  const none: number[] = [];
  const with100: number[] = [];
  for (let round = 0; round < 2; round++) {
    none.push(await throughput());
    const watchers = openWatchers(100);
    await watchers.ready;
    with100.push(await throughput());
    await watchers.close();
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

  const before = rssKb();
  const idle = openWatchers(1000);
  await idle.ready;
  await new Promise((r) => setTimeout(r, 1000));
  const perWatcherKb = (rssKb() - before) / 1000;
  await idle.close();

  say(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}; server in a child process, clients gRPC over loopback.`);
  say("");
  say("| watchers | write-to-delivery p50 | p99 |");
  say("| ---: | ---: | ---: |");
  for (const [count, l] of latencies) say(`| ${count} | ${l.p50.toFixed(1)} ms | ${l.p99.toFixed(1)} ms |`);
  say("");
  say(`Write throughput (${CONCURRENT_WRITES} concurrent SetPolicy calls, ${THROUGHPUT_SECONDS} s, two rounds each):`);
  say(`no watcher ${mean(none).toFixed(0)}/s, 100 watchers ${mean(with100).toFixed(0)}/s: ratio ${(mean(with100) / mean(none)).toFixed(2)} (target >= 0.9).`);
  say(`Memory per idle watcher (server RSS growth with 1,000 open streams / 1,000): ${perWatcherKb.toFixed(1)} KiB.`);
} finally {
  await server.stop("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}

writeDocSection("Watch (`npm run bench:watch`)", results.join("\n"));
