// `node --import tsx bench/access-deny.ts [--sizes=1000,1000000]`: the cost of deny rules at the root. The in-process
// check of bench/access.ts (ours: checkChain over the resource's chain, Subject.of included), on the same model, with
// and without a deny policy of 10 guardrail rules on every organization; checks/s with deny ÷ checks/s without
// (target ≥ 0.85). The rules name the permissions asked (`*`, `{collection}.*`, exact ones), so every check evaluates
// them up to the principal match; none denies the benchmark's principals, so the answers, verified first, are the same.
// Rounds of both engines interleave (the machine is shared; noise hits both alike); the median round is reported.
// Prints Markdown for docs/benchmarks.md on stdout.
import { create } from "@bufbuild/protobuf";
import { parseArgs } from "node:util";
import { DenyPolicySchema, DenyRuleSchema } from "../gen/policy/v1/deny_policy_pb.js";
import { buildOurs, loadSchema } from "./access-models/ours.js";
import { QUERIES } from "./access-models/dataset.js";
import { deepFreeze } from "../src/frozen-value.js";

const { values } = parseArgs({ options: { sizes: { type: "string", default: "1000,1000000" }, rounds: { type: "string", default: "7" } } });
const sizes = values.sizes.split(",").map(Number);
const ROUNDS = Number(values.rounds);
const PER_ROUND = 200_000;

const DENY = deepFreeze(
  create(DenyPolicySchema, {
    rules: [
      ...Array.from({ length: 8 }, (_, i) =>
        create(DenyRuleSchema, {
          description: `guardrail ${i}`,
          deniedPrincipals: [`group:quarantine-${i}`, `user:leaver-${i}@example.com`, `domain:partner${i}.example`],
          exceptionPrincipals: ["group:break-glass"],
          deniedPermissions: i % 2 === 0 ? ["*"] : ["projects.*", "secrets.get", "policies.set"],
          exceptionPermissions: i % 3 === 0 ? ["projects.get"] : [],
        }),
      ),
      create(DenyRuleSchema, { description: "no deletes by contractors' bots", deniedPrincipals: ["serviceAccount:bot@contractor.example"], deniedPermissions: ["projects.delete"] }),
      create(DenyRuleSchema, {
        description: "no secrets outside the office",
        deniedPrincipals: ["group:interns"],
        deniedPermissions: ["secrets.*"],
        denialCondition: { expression: "request.attributes.office != true" },
      }),
    ],
  }),
);

const schema = loadSchema();
const lines: string[] = [];
lines.push("| stored bindings | checks/s without deny | checks/s with 10 deny rules at the root | ratio (target ≥ 0.85) |");
lines.push("| ---: | ---: | ---: | ---: |");
for (const stored of sizes) {
  const engines = [buildOurs(stored, schema), buildOurs(stored, schema, DENY)];
  const prepared = engines.map((e) => QUERIES.map((q) => e.prepare(q)));
  engines.forEach((engine, i) =>
    QUERIES.forEach((q, j) => {
      if (engine.decide(prepared[i]![j]) !== q.granted) throw new Error(`${engine.label}: wrong answer on ${q.permission} (${q.why})`);
    }),
  );
  const rates: number[][] = [[], []];
  for (let round = 0; round < ROUNDS + 1; round++) {
    for (const [i, engine] of engines.entries()) {
      const decisions = prepared[i]!;
      const started = performance.now();
      for (let n = 0; n < PER_ROUND; n++) engine.decide(decisions[n % decisions.length]);
      const rate = PER_ROUND / ((performance.now() - started) / 1000);
      if (round > 0) rates[i]!.push(rate); // round 0 warms up
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const [plain, deny] = rates.map(median) as [number, number];
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  lines.push(`| ${stored.toLocaleString("en-US")} | ${fmt(plain)} | ${fmt(deny)} | ${(deny / plain).toFixed(2)} ${deny / plain >= 0.85 ? "(met)" : "(NOT met)"} |`);
  process.stderr.write(`${stored}: ${fmt(plain)} vs ${fmt(deny)}\n`);
}
process.stdout.write(`${lines.join("\n")}\n`);
