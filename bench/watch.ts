// `npm run bench:watch`: Watch on the built server in a child process (as `npm start` runs it, default flags; loopback
// only, bounded in time), on each port (the main port, the gRPC port):
//  - write-to-delivery latency p50/p99 with 1, 100 and 1,000 concurrent watchers (from the SetPolicy call to the
//    change's arrival at every watcher), with raw watchers that do not decode and with decoding connect-es clients;
//  - write throughput with 100 watchers as a ratio of throughput with none, in the same run (target >= 0.9; after one
//    discarded run of writes, which warms the server), and the server's CPU time per write with and without them
//    (and each client process's). The 100 watchers of the throughput rounds are raw grpc-js streams that count
//    messages without decoding them, in a process of their own (watch-counting.ts): this machine's two cores are
//    shared by the server and its clients, 100 decoding clients would measure the clients, and in the writers' own
//    process their reading took the writers' single thread (the ratio then measured that thread, not the server);
//  - memory per idle watcher (server RSS growth / watchers: 10,000 streams on the gRPC port, then 10,000 more).
// Watchers ask for batches (WatchRequest.batch, one message per delivery turn) unless the row says "one change per
// message" (old clients). The server runs with its Watch stream limits raised (--watch-streams,
// --watch-streams-per-caller: every watcher here is the same anonymous caller); everything else is default.
// Results go to stdout and docs/benchmarks.md (the "Watch" section) when every part ran on every port.
// `-- --only latency,throughput,memory` runs some parts, `--port main|grpc` one port (neither writes the doc), and
// `--batches-only` skips the throughput rows of unbatched watchers, `--rounds N` runs N throughput rounds (3 by default),
// `--cpu-prof DIR` runs the server under node --cpu-prof (its profile written to DIR when it stops).
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { setMaxListeners } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { PolicyService } from "../gen/policy/v1/policy_service_pb.js";
import { ResourceService } from "../gen/policy/v1/resource_service_pb.js";
import { WatchService } from "../gen/policy/v1/watch_service_pb.js";
import { cpuSecondsOfTree, rssMbOfTree, startBuiltServer } from "./built-server.js";
import { countingWatchers, watchersInChild, watchRequest, WATCHERS_PER_CONNECTION, type Watchers } from "./watch-counting.js";
import { writeDocSection } from "./doc-section.js";

const { values: flags } = parseArgs({
  options: { only: { type: "string" }, port: { type: "string" }, "batches-only": { type: "boolean" }, "cpu-prof": { type: "string" }, rounds: { type: "string" } },
});
const parts = new Set((flags.only ?? "latency,throughput,memory").split(","));
const everything = flags.only === undefined && flags.port === undefined && !flags["batches-only"];

const LATENCY_WRITES = 40;
const THROUGHPUT_SECONDS = 4;
// More rounds (--rounds N) narrow the per-round ratios' spread on a noisy machine; each round pairs runs a few seconds apart.
const THROUGHPUT_ROUNDS = Number(flags.rounds ?? 3);
if (!Number.isInteger(THROUGHPUT_ROUNDS) || THROUGHPUT_ROUNDS < 1) throw new Error(`--rounds takes a whole number of rounds, at least 1 (got ${flags.rounds})`);
const CONCURRENT_WRITES = 16;
const IDLE_WATCHERS = 10_000;

const dir = mkdtempSync(join(tmpdir(), "policy-bench-watch-"));
const server = await startBuiltServer([
  "--port", "0", "--grpc-port", "0", "--db", join(dir, "policy.db"),
  `--watch-streams=${2 * IDLE_WATCHERS + 1000}`, `--watch-streams-per-caller=${2 * IDLE_WATCHERS + 1000}`,
], flags["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${flags["cpu-prof"]}`] : []);
const pid = server.process.pid!;
// Writers on the gRPC port, as other services call it.
const writer = createGrpcTransport({ baseUrl: server.grpc });
const policies = createClient(PolicyService, writer);
const resources = createClient(ResourceService, writer);
const PORTS = [
  { name: "main port", key: "main", url: server.main },
  { name: "gRPC port", key: "grpc", url: server.grpc },
].filter((port) => flags.port === undefined || port.key === flags.port);

const policy = (member: string) => ({ bindings: [{ role: "roles/collaborator", members: [member] }] });

await resources.createResource({ resource: { name: "organizations/bench" } });
for (let i = 0; i < 10; i++) await resources.createResource({ resource: { name: `projects/b${i}`, parent: "organizations/bench" } });

/** Watchers that decode every change (connect-es clients), calling `onChange` with the change's first member. */
function decodingWatchers(url: string, count: number, onChange: (member: string) => void = () => undefined): Watchers {
  const abort = new AbortController();
  setMaxListeners(count + 10, abort.signal);
  const clients: Client<typeof WatchService>[] = [];
  for (let i = 0; i < Math.ceil(count / WATCHERS_PER_CONNECTION); i++) clients.push(createClient(WatchService, createGrpcTransport({ baseUrl: url })));
  let opened = 0;
  let allOpen!: () => void;
  const ready = new Promise<void>((r) => (allOpen = r));
  const streams = Array.from({ length: count }, async (_, i) => {
    try {
      let first = true;
      for await (const m of clients[i % clients.length]!.watch(watchRequest(true), { signal: abort.signal })) {
        if (first && ++opened === count) allOpen();
        first = false;
        const changes = m.event.case === "batch" ? m.event.value.changes : m.event.case === "change" ? [m.event.value] : [];
        for (const change of changes) if (change.policy) onChange(change.policy.bindings[0]!.members[0]!);
      }
    } catch {
      // aborted
    }
  });
  return {
    ready,
    async close() {
      abort.abort();
      await Promise.all(streams);
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function latency(url: string, count: number): Promise<{ p50: number; p99: number }> {
  const sent = new Map<string, number>();
  const samples: number[] = [];
  const watchers = decodingWatchers(url, count, (member) => {
    const start = sent.get(member);
    if (start !== undefined) samples.push(performance.now() - start);
  });
  await watchers.ready;
  for (let i = 0; i < LATENCY_WRITES; i++) {
    const member = `user:l${count}x${i}x${url.length}@example.com`;
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

/**
 * The same with watchers that do not decode (raw grpc-js streams): the k-th change a watcher receives is the k-th
 * write, since nothing else writes meanwhile. What the server's delivery costs, not a decoding client's.
 */
async function rawLatency(url: string, count: number): Promise<{ p50: number; p99: number }> {
  const sent: number[] = [];
  const received = new Array<number>(count).fill(0);
  const samples: number[] = [];
  const watchers = countingWatchers(url, count, true, (watcher, changes) => {
    const now = performance.now();
    for (let j = 0; j < changes; j++) samples.push(now - sent[received[watcher]! + j]!);
    received[watcher]! += changes;
  });
  await watchers.ready;
  for (let i = 0; i < LATENCY_WRITES; i++) {
    sent.push(performance.now());
    await policies.setPolicy({ resource: `projects/b${i % 10}`, policy: policy(`user:r${count}x${i}x${url.length}@example.com`) });
    await new Promise((r) => setTimeout(r, 30 + Math.random() * 40));
  }
  const deadline = Date.now() + 10_000;
  while (samples.length < LATENCY_WRITES * count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await watchers.close();
  if (samples.length < LATENCY_WRITES * count) throw new Error(`only ${samples.length} of ${LATENCY_WRITES * count} deliveries arrived`);
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

interface Throughput {
  /** Writes per second, until the last write and (with watchers) its delivery to every watcher. */
  rate: number;
  /** Server CPU time per write over the same time. */
  cpuMs: number;
  /** The writers' process's CPU time per write (this one). */
  clientCpuMs: number;
  /** With watchers: their process's CPU time per write. */
  watchersCpuMs: number;
  /** With watchers: how long after the last write the last delivery arrived. */
  lagMs: number;
  /** With watchers: responses carrying changes, per watcher per second. */
  responseRate: number;
}

/**
 * SetPolicy calls from CONCURRENT_WRITES writers for THROUGHPUT_SECONDS; with `watchers`, the run lasts until every
 * watcher has every change (a server that acknowledges writes faster than it delivers them only moves the work to
 * the next run).
 */
async function throughput(watchers?: ReturnType<typeof watchersInChild>): Promise<Throughput> {
  // Counted as changes delivered (a batch carries several).
  let writes = 0;
  const cpuBefore = cpuSecondsOfTree(pid);
  const clientBefore = process.cpuUsage();
  const before = await watchers?.counts();
  const start = performance.now();
  const end = start + THROUGHPUT_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENT_WRITES }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        await policies.setPolicy({ resource: `projects/b${w % 10}`, policy: policy(`user:t${w}x${i}@example.com`) });
        writes++;
      }
    }),
  );
  const written = performance.now();
  let finished = written;
  let after: Awaited<ReturnType<ReturnType<typeof watchersInChild>["reach"]>> | undefined;
  if (watchers && before) {
    const expected = before.messages + writes * 100;
    const stop = new AbortController();
    const timeout = sleep(120_000, undefined, { signal: stop.signal }).catch(() => undefined);
    after = await Promise.race([watchers.reach(expected), timeout]);
    stop.abort();
    if (!after) throw new Error(`not every one of ${writes * 100} deliveries arrived within 2 minutes`);
    // When the child saw the last delivery, on this process's clock.
    finished = after.at - performance.timeOrigin;
  }
  const clientCpu = cpuMsOf(process.cpuUsage(clientBefore));
  const cpuMs = ((cpuSecondsOfTree(pid) - cpuBefore) * 1000) / writes;
  const seconds = (Math.max(finished, written) - start) / 1000;
  return {
    rate: writes / seconds,
    cpuMs,
    clientCpuMs: clientCpu / writes,
    watchersCpuMs: after && before ? (after.cpuMs - before.cpuMs) / writes : 0,
    lagMs: finished - written,
    responseRate: after && before ? (after.responses - before.responses) / 100 / seconds : 0,
  };
}

const cpuMsOf = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

const results: string[] = [];
const say = (line: string) => {
  console.log(line);
  results.push(line);
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

try {
  say(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}; the built server in a child process (default flags), clients gRPC over loopback, writers on the gRPC port; load average ${loadavg()[0]!.toFixed(1)} at the start.`);
  if (parts.has("latency")) {
    say("");
    say("Write-to-delivery latency, batched watchers: raw grpc-js streams that do not decode (what the server's delivery costs), and connect-es clients that decode every change, all in this one client process (what such a process sees):");
    say("");
    say("| port | watchers | raw p50 | raw p99 | decoding p50 | decoding p99 |");
    say("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (const port of PORTS) {
      for (const count of [1, 100, 1000]) {
        const raw = await rawLatency(port.url, count);
        const l = await latency(port.url, count);
        say(`| ${port.name} | ${count} | ${raw.p50.toFixed(1)} ms | ${raw.p99.toFixed(1)} ms | ${l.p50.toFixed(1)} ms | ${l.p99.toFixed(1)} ms |`);
      }
    }
  }
  if (parts.has("throughput")) {
    say("");
    say(`Write throughput (${CONCURRENT_WRITES} concurrent SetPolicy calls, ${THROUGHPUT_SECONDS} s per run, ${THROUGHPUT_ROUNDS} rounds of none / 100 watchers alternated after one discarded run; target >= 0.9):`);
    say("");
    say("| watchers on | watchers ask for | writes/s, none | writes/s, 100 watchers (delivered) | ratio | ratio per round: median (min–max) | server CPU per write, none | with 100 watchers | writers' process CPU per write, none | with 100 watchers | watchers' process CPU per write | responses per watcher per second | last delivery after the last write |");
    say("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    // Discarded: the first run of writes on a fresh server ran at about half the rate of the next (its code not yet
    // optimised), which put the first round's ratio near 1.5 and lifted the means' ratio.
    await throughput();
    for (const port of PORTS) {
      for (const batch of flags["batches-only"] ? [true] : [true, false]) {
        // Alternated, so that drift (WAL growth, page cache) hits both sides.
        const none: Throughput[] = [];
        const with100: Throughput[] = [];
        for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
          none.push(await throughput());
          const watchers = watchersInChild(port.url, 100, batch);
          await watchers.ready;
          with100.push(await throughput(watchers));
          await watchers.close();
        }
        const of = (xs: Throughput[], key: keyof Throughput) => mean(xs.map((x) => x[key]));
        // Each round's pair ran seconds apart: its ratio is less moved by the machine's drift than the means' ratio.
        const perRound = with100.map((w, i) => w.rate / none[i]!.rate).sort((a, b) => a - b);
        say(
          `| ${port.name} | ${batch ? "batches" : "one change per message"} | ${of(none, "rate").toFixed(0)} | ${of(with100, "rate").toFixed(0)} | ${(of(with100, "rate") / of(none, "rate")).toFixed(2)} | ${percentile(perRound, 50).toFixed(2)} (${perRound[0]!.toFixed(2)}–${perRound.at(-1)!.toFixed(2)}) | ` +
            `${of(none, "cpuMs").toFixed(3)} ms | ${of(with100, "cpuMs").toFixed(3)} ms | ${of(none, "clientCpuMs").toFixed(3)} ms | ${of(with100, "clientCpuMs").toFixed(3)} ms | ${of(with100, "watchersCpuMs").toFixed(3)} ms | ${of(with100, "responseRate").toFixed(0)} | ${of(with100, "lagMs").toFixed(0)} ms |`,
        );
      }
    }
  }
  if (parts.has("memory")) {
    say("");
    // Twice 10,000: the first step's growth holds one-time costs too (the heap growing from a fresh server's, code
    // compiled, connections' buffers), and depends on what the server did before; the second's is what each more
    // watcher costs while 10,000 are open.
    const steps: number[] = [];
    const sets = [];
    for (let step = 0; step < 2; step++) {
      const before = rssMbOfTree(pid);
      const idle = countingWatchers(server.grpc, IDLE_WATCHERS);
      sets.push(idle);
      await idle.ready;
      await new Promise((r) => setTimeout(r, 1000));
      steps.push(rssMbOfTree(pid) - before);
    }
    const perWatcher = (mb: number) => ((mb * 1024) / IDLE_WATCHERS).toFixed(1);
    say(
      `Memory per idle watcher (server RSS growth, open streams on the gRPC port, ${IDLE_WATCHERS / WATCHERS_PER_CONNECTION} connections per ${IDLE_WATCHERS.toLocaleString("en")}): ` +
        `the first ${IDLE_WATCHERS.toLocaleString("en")} ${steps[0]!.toFixed(0)} MB (${perWatcher(steps[0]!)} KiB each, one-time costs included), ` +
        `the next ${IDLE_WATCHERS.toLocaleString("en")} ${steps[1]!.toFixed(0)} MB: **${perWatcher(steps[1]!)} KiB per watcher** (target < 20 KiB).`,
    );
    for (const idle of sets) await idle.close();
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

if (everything) writeDocSection("Watch (`npm run bench:watch`)", results.join("\n"));
