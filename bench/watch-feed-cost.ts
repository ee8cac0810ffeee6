// `node --import tsx bench/watch-feed-cost.ts [--turns 400] [--changes 150] [--streams 100]`: the CPU Watch spends per
// change in the server's process, apart from the store's read and the transport: each change encoded once as it
// enters the feed's window, each turn's batch put together from those bytes, and what each of the binary streams
// takes from it (its carrier, and the gRPC port's memoised encoding of that). Changes like bench/watch.ts's writes
// (a one-binding SetPolicy). Comparable across two trees run one after the other (docs/benchmarks.md, "Watch fan-out:
// shared responses as bytes").
import { create } from "@bufbuild/protobuf";
import { parseArgs } from "node:util";
import { PolicySchema } from "../gen/policy/v1/policy_pb.js";
import { WatchResponseSchema } from "../gen/policy/v1/watch_service_pb.js";
import { batchResponseOf } from "../src/domain/change-batch.js";
import { encodedSizeOf } from "../src/domain/change-message.js";
import { encodingOf } from "../src/frozen-encoding.js";
import type { ChangeRecord } from "../src/store/store.js";

const { values: flags } = parseArgs({ options: { turns: { type: "string" }, changes: { type: "string" }, streams: { type: "string" } } });
const TURNS = Number(flags.turns ?? 400);
const PER_TURN = Number(flags.changes ?? 150);
const STREAMS = Number(flags.streams ?? 100);

let seq = 0;
function change(): ChangeRecord {
  seq++;
  const resource = `projects/b${seq % 10}`;
  return {
    seq,
    timeMs: Date.now(),
    principal: "anonymous",
    action: "policy.set",
    resource,
    resourceType: "projects",
    parent: "organizations/bench",
    lineage: [resource, "organizations/bench"],
    policy: create(PolicySchema, {
      version: 1,
      etag: new Uint8Array(8).fill(seq % 256),
      bindings: [{ role: "roles/collaborator", members: [`user:w${seq}@example.com`] }],
    }),
  };
}

function turn(): void {
  // Fresh records each turn, as the feed reads them from the store.
  const changes = Array.from({ length: PER_TURN }, change);
  for (const c of changes) encodedSizeOf(c);
  const batch = batchResponseOf(changes, changes.at(-1)!.seq);
  for (let s = 0; s < STREAMS; s++) encodingOf(WatchResponseSchema, batch.carrier);
}

for (let i = 0; i < 50; i++) turn();
const cpu = process.cpuUsage();
const started = performance.now();
for (let i = 0; i < TURNS; i++) turn();
const used = process.cpuUsage(cpu);
const wallMs = performance.now() - started;
const n = TURNS * PER_TURN;
console.log(
  `${((used.user + used.system) / n).toFixed(2)} µs of CPU per change (${((wallMs * 1000) / n).toFixed(2)} µs wall), ` +
    `turns of ${PER_TURN} changes, ${STREAMS} binary streams`,
);
