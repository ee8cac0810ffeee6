// Watchers that count the changes they receive without decoding them (raw grpc-js streams), for bench:watch: in the
// benchmark's own process (latency, memory), or in a process of their own (watchersInChild, the throughput rounds).
import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { WatchRequestSchema } from "../gen/policy/v1/watch_service_pb.js";

export const WATCHERS_PER_CONNECTION = 250;
export const watchRequest = (batch: boolean) => ({ progressInterval: { seconds: 3600n }, batch });

export interface Watchers {
  /** Resolves when every watcher has its first message (the stream is open). */
  ready: Promise<void>;
  close(): Promise<void>;
}

export interface CountingWatchers extends Watchers {
  /** Changes received so far, by all of them. */
  messages(): number;
  /** Responses that carried changes. */
  responses(): number;
}

/**
 * The changes a WatchResponse carries, counted from its bytes without decoding them: 1 for a change (field 1), the
 * entries of a batch (field 3: ChangeBatch, whose changes are its field 1), 0 for progress.
 */
export function changesIn(bytes: Buffer): number {
  if (bytes[0] === 0x0a) return 1;
  if (bytes[0] !== 0x1a) return 0;
  let at = 1;
  const varint = () => {
    let value = 0;
    for (let shift = 1; ; shift *= 128) {
      const b = bytes[at++]!;
      value += (b & 0x7f) * shift;
      if (b < 0x80) return value;
    }
  };
  const end = varint() + at;
  let changes = 0;
  while (at < end) {
    const tag = varint();
    if ((tag & 7) === 2) {
      const length = varint();
      at += length;
      if (tag >> 3 === 1) changes++;
    } else varint();
  }
  return changes;
}

/** Watchers that count the changes they receive without decoding them (raw grpc-js streams). */
export function countingWatchers(
  url: string,
  count: number,
  batch = true,
  onChanges: (watcher: number, changes: number) => void = () => undefined,
): CountingWatchers {
  const address = url.replace(/^http:\/\//, "");
  const request = Buffer.from(toBinary(WatchRequestSchema, create(WatchRequestSchema, watchRequest(batch))));
  // A local subchannel pool each: grpc-js otherwise shares one connection between clients of the same address, and
  // one connection carries at most 1,000 streams.
  const clients = Array.from(
    { length: Math.ceil(count / WATCHERS_PER_CONNECTION) },
    () => new grpc.Client(address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }),
  );
  let messages = 0;
  let responses = 0;
  let opened = 0;
  let allOpen!: () => void;
  const ready = new Promise<void>((r) => (allOpen = r));
  const calls = Array.from({ length: count }, (_, i) => {
    const call = clients[i % clients.length]!.makeServerStreamRequest("/policy.v1.WatchService/Watch", (b: Buffer) => b, (b: Buffer) => b, request);
    let first = true;
    call.on("data", (bytes: Buffer) => {
      const changes = changesIn(bytes);
      messages += changes;
      if (changes > 0) {
        responses++;
        onChanges(i, changes);
      }
      if (first && ++opened === count) allOpen();
      first = false;
    });
    call.on("error", () => undefined);
    return call;
  });
  return {
    ready,
    messages: () => messages,
    responses: () => responses,
    async close() {
      for (const call of calls) call.cancel();
      for (const client of clients) client.close();
    },
  };
}


/** What the watchers in a child have received, its CPU time, and when (ms since the epoch, performance.timeOrigin-based). */
export interface ChildCounts {
  messages: number;
  responses: number;
  cpuMs: number;
  at: number;
}

/**
 * The same watchers in a process of their own, as the services that follow a policy server run: their reading then
 * takes a core of its own when there is one, instead of sharing the writers' event loop (where every message they
 * read delayed the writers' next call, so that the ratio measured this process's single thread). They still read
 * every change, on the same machine. The child says nothing while they read: `counts()` asks it, and `reach(n)`
 * resolves when they have received n changes in all (it answers from the data event that reached n).
 */
export function watchersInChild(url: string, count: number, batch = true) {
  const child = fork(fileURLToPath(import.meta.url), ["--watchers", url, String(count), String(batch)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  let opened!: () => void;
  const ready = new Promise<void>((resolve) => (opened = resolve));
  let answer: ((counts: ChildCounts) => void) | undefined;
  child.on("message", (m: "ready" | ChildCounts) => {
    if (m === "ready") return opened();
    const resolve = answer;
    answer = undefined;
    resolve?.(m);
  });
  const ask = (until: number) =>
    new Promise<ChildCounts>((resolve) => {
      answer = resolve;
      child.send({ until });
    });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    ready,
    counts: () => ask(0),
    reach: (messages: number) => ask(messages),
    async close() {
      child.send("stop");
      await exited;
    },
  };
}

// The child: opens the watchers, says when they are open, and answers each question once its watchers have received
// `until` changes in all (at once when they have).
const asChild = process.argv.indexOf("--watchers");
if (asChild >= 0 && process.send) {
  const [url, count, batch] = process.argv.slice(asChild + 1);
  let until: number | undefined;
  const answer = () => {
    const usage = process.cpuUsage();
    const counts: ChildCounts = {
      messages: watchers.messages(),
      responses: watchers.responses(),
      cpuMs: (usage.user + usage.system) / 1000,
      at: performance.timeOrigin + performance.now(),
    };
    until = undefined;
    process.send!(counts);
  };
  const watchers = countingWatchers(url!, Number(count), batch === "true", () => {
    if (until !== undefined && watchers.messages() >= until) answer();
  });
  await watchers.ready;
  process.send("ready");
  process.on("message", (m: "stop" | { until: number }) => {
    if (m === "stop") {
      void watchers.close().then(() => process.disconnect());
      return;
    }
    until = m.until;
    if (watchers.messages() >= until) answer();
  });
}
