// `node --import tsx bench/shared-policies.ts [--rounds=7]`: the cost of shared policies (AIP-2511) on the hot path.
// A depth-10 chain (8 projects under a cloud under an organization; the schema's types, chained in memory) where each
// link carries two bindings: either both in its dedicated policy, or one there and one in a shared policy bound to the
// link (10 shared policies along the chain). The same content either way, so the answers are the same (verified
// first). Measured in process, on shared values as the read cache hands them out: checkChain (what CheckAccess and
// the service's authorization run) and effectivePolicy (what LookupEffectivePolicy computes when its memo misses).
// Ratio = with shared ÷ dedicated only (target ≥ 0.8). Rounds interleave; the median is reported. Prints Markdown.
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { AccessState } from "../gen/policy/v1/access_service_pb.js";
import { BindingSchema, PolicySchema } from "../gen/policy/v1/policy_pb.js";
import { ResourceSchema as ResourceMessage } from "../gen/policy/v1/resource_pb.js";
import { SharedPolicySchema } from "../gen/policy/v1/shared_policy_pb.js";
import { checkChain } from "../src/domain/access/chain-check.js";
import { Subject } from "../src/domain/access/subject.js";
import { effectivePolicy } from "../src/domain/effective-policy.js";
import { parseSchema } from "../src/schema/schema-loader.js";
import { Violations } from "../src/service-error.js";
import { deepFreeze } from "../src/frozen-value.js";
import type { StoredPolicy } from "../src/store/store.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "7" } } });
const ROUNDS = Number(values.rounds);
const schema = parseSchema(readFileSync(new URL("../schema/default.yaml", import.meta.url), "utf8"), "default.yaml");

const DEPTH = 10;
const names = [...Array.from({ length: DEPTH - 2 }, (_, i) => `projects/p${i}`), "clouds/c", "organizations/o"];
const typeOf = (name: string) => (name.startsWith("projects/") ? "project" : name.startsWith("clouds/") ? "cloud" : "organization");
const first = (i: number) => create(BindingSchema, { role: "roles/readonly", members: [`user:r${i}@example.com`, `group:g${i}`] });
const second = (i: number) => create(BindingSchema, { role: "roles/collaborator", members: [`user:c${i}@example.com`] });

function chain(withShared: boolean): StoredPolicy[] {
  return names.map((name, i) => {
    const resource = create(ResourceMessage, { name, parent: names[i + 1] ?? "", type: typeOf(name) });
    const bindings = withShared ? [first(i)] : [first(i), second(i)];
    const link: StoredPolicy = { resource, createSeq: 0, policy: create(PolicySchema, { version: 1, bindings }) };
    if (withShared) {
      link.shared = [create(SharedPolicySchema, { name: `sharedPolicies/s${i}`, parent: "organizations/o", bindings: [second(i)] })];
    }
    return deepFreeze(link);
  });
}

const variants = [chain(false), chain(true)];
/** Granted at the root only (every link is scanned), and granted nowhere. */
const QUERIES = [
  { principals: [`user:c${DEPTH - 1}@example.com`], permission: "projects.update", granted: true },
  { principals: ["user:nobody@example.com", "group:other"], permission: "projects.get", granted: false },
];

function check(links: StoredPolicy[], q: (typeof QUERIES)[number]): boolean {
  const subject = Subject.of(q.principals, new Violations(), "principals");
  const input = { subject, permissions: [q.permission], attributes: new Map(), requestTime: timestampNow(), explain: false };
  return checkChain(schema, links, input)![0]!.state === AccessState.GRANTED;
}

for (const links of variants) {
  for (const q of QUERIES) if (check(links, q) !== q.granted) throw new Error(`wrong answer for ${q.permission}`);
  if (effectivePolicy(names[0]!, links, 3).bindings.length !== 2 * DEPTH) throw new Error("wrong effective policy");
}

function rate(work: () => void, perRound: number): number {
  const started = performance.now();
  for (let n = 0; n < perRound; n++) work();
  return perRound / ((performance.now() - started) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const lines = ["| call (depth-10 chain) | dedicated only / s | with 10 shared policies / s | ratio (target ≥ 0.8) |", "| --- | ---: | ---: | ---: |"];
const calls: [string, (links: StoredPolicy[], n: number) => void, number][] = [
  ["CheckAccess (checkChain)", (links, n) => void check(links, QUERIES[n % 2]!), 100_000],
  ["LookupEffectivePolicy (effectivePolicy, memo miss)", (links) => void effectivePolicy(names[0]!, links, 3), 20_000],
];
for (const [label, call, perRound] of calls) {
  const rates: number[][] = [[], []];
  for (let round = 0; round < ROUNDS + 1; round++) {
    variants.forEach((links, i) => {
      let n = 0;
      const r = rate(() => call(links, n++), perRound);
      if (round > 0) rates[i]!.push(r); // round 0 warms up
    });
  }
  const [plain, shared] = rates.map(median) as [number, number];
  lines.push(`| ${label} | ${fmt(plain)} | ${fmt(shared)} | ${(shared / plain).toFixed(2)} ${shared / plain >= 0.8 ? "(met)" : "(NOT met)"} |`);
}
process.stdout.write(`${lines.join("\n")}\n`);
