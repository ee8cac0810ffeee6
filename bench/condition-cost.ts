// `npm run bench:conditions [-- --seed N]`: what the worst conditions cost, against what the meter charges them
// (issue 25). For each worst case we could construct — regular expressions that backtrack in other engines, string
// building, split/join/replace/format, equality over shared lists, comprehensions over request attributes,
// conversions, time zones — the time of one evaluation (median), the cost units it was charged, and the ratio: µs per
// 1,000 units. A bounded ratio is what makes the evaluation budget (docs/security.md, "Condition cost") a bound in time.
// Inputs stay within CheckAccess's limits (attributes: 16,384 in size). In-process: no server.
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { parseArgs } from "node:util";
import { MAX_ATTRIBUTES_SIZE } from "../src/domain/access/access.js";
import { ConditionBudget, EVALUATION_BUDGET, WRITE_BUDGET, compileCondition, type ConditionInput } from "../src/domain/conditions.js";
import { writeDocSection } from "./doc-section.js";

const { values } = parseArgs({ options: { seed: { type: "string" }, only: { type: "string" }, "no-doc": { type: "boolean" } } });
const SEED = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
console.log(`seed: ${SEED} (replay with --seed ${SEED})`);

/** mulberry32, seeded from the printed seed. */
const random = (() => {
  let a = SEED >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
})();
const pick = (n: number, alphabet: string) => Array.from({ length: n }, () => alphabet[Math.floor(random() * alphabet.length)]).join("");

interface Case {
  family: string;
  name: string;
  expression: string;
  attributes?: Record<string, unknown>;
  /** Attributes that change at every evaluation (defeating a cache). */
  fresh?: (i: number) => Record<string, unknown>;
}

const A = (n: number) => "a".repeat(n);
const list = <T,>(n: number, item: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => item(i));
const map = (n: number, key: (i: number) => string, value: (i: number) => unknown) => new Map(list(n, (i) => [key(i), value(i)] as const));

const CASES: Case[] = [
  // Regular expressions: counted repetitions over alternatives (seconds per evaluation with a backtracking engine, and
  // with an RE2 charged by the pattern's length), anchored and not; automaton blow-ups; case folding; Unicode classes.
  // Each with the longest text its evaluation budget allows.
  { family: "regex", name: "issue 25's pattern: (a|aa|aaa|aaaa){1000}, 3,900 a's", expression: "request.attributes.s.matches('(a|aa|aaa|aaaa){1000}')", attributes: { s: A(3900) } },
  { family: "regex", name: "(a|aa|aaa|aaaa){45} (size 857), 100 a's", expression: "request.attributes.s.matches('(a|aa|aaa|aaaa){45}')", attributes: { s: A(100) } },
  { family: "regex", name: "^(a|aa|aaa|aaaa){45}$, 100 a's", expression: "request.attributes.s.matches('^(a|aa|aaa|aaaa){45}$')", attributes: { s: A(100) } },
  { family: "regex", name: "^(a|aa|aaa|aaaa){45}$, 16,000 a's (over the budget)", expression: "request.attributes.s.matches('^(a|aa|aaa|aaaa){45}$')", attributes: { s: A(16_000) } },
  { family: "regex", name: "(a|aa|aaa|aaaa){250} (size 4,752), 15 a's", expression: `'${A(15)}'.matches('(a|aa|aaa|aaaa){250}')` },
  { family: "regex", name: "(a?){80}a{80}, 180 a's", expression: "request.attributes.s.matches('(a?){80}a{80}')", attributes: { s: A(180) } },
  { family: "regex", name: "[ab]*a[ab]{200}$, 400 random a/b", expression: "request.attributes.s.matches('[ab]*a[ab]{200}$')", attributes: { s: pick(400, "ab") } },
  { family: "regex", name: "[ab]*a[ab]{12}x, 3,000 random a/b", expression: "request.attributes.s.matches('[ab]*a[ab]{12}x')", attributes: { s: pick(3000, "ab") } },
  { family: "regex", name: "(?i)(a|aa){100}, 100 A's", expression: "request.attributes.s.matches('(?i)(a|aa){100}')", attributes: { s: "A".repeat(100) } },
  { family: "regex", name: "(\\pL|\\pN){100}x, 120 letters", expression: "request.attributes.s.matches('(\\\\pL|\\\\pN){100}x')", attributes: { s: pick(120, "aé1ж") } },
  { family: "regex", name: "(.*a){60}, 230 a's", expression: "request.attributes.s.matches('(.*a){60}')", attributes: { s: A(230) } },
  { family: "regex", name: "(x+x+)+y, 4,000 x's", expression: "request.attributes.s.matches('(x+x+)+y')", attributes: { s: "x".repeat(4000) } },
  {
    family: "regex",
    name: "a new pattern of size 1,527 at each evaluation (compiled each time), 5 a's",
    expression: `'${A(5)}'.matches(request.attributes.p)`,
    fresh: (i) => ({ p: `(a|aa|aaa|aaaa){80}|z${i}` }),
  },
  {
    family: "regex",
    name: "a new small pattern at each evaluation (compiled each time), 100 a's",
    expression: `'${A(100)}'.matches(request.attributes.p)`,
    fresh: (i) => ({ p: `^a+b?c${i}$` }),
  },
  // String building.
  { family: "strings", name: "s + s + s + s, 4,000 characters", expression: "(request.attributes.s + request.attributes.s + request.attributes.s + request.attributes.s).size() > 0", attributes: { s: A(4000) } },
  { family: "strings", name: "split(''), 16,000 characters", expression: "request.attributes.s.split('').size() > 0", attributes: { s: A(16_000) } },
  { family: "strings", name: "split('a'), 16,000 characters", expression: "request.attributes.s.split('a').size() > 0", attributes: { s: A(16_000) } },
  { family: "strings", name: "join(','), 8,000 one-character strings", expression: "request.attributes.l.join(',').size() > 0", attributes: { l: list(8000, () => "x") } },
  { family: "strings", name: "join(','), 8,000 one-character strings (a list literal's size)", expression: "[request.attributes.l].map(l, l.join(',')).size() > 0", attributes: { l: list(8000, () => "x") } },
  { family: "strings", name: "replace('a', 'bb'), 2,000 characters", expression: "request.attributes.s.replace('a', 'bb').size() > 0", attributes: { s: A(2000) } },
  { family: "strings", name: "replace('a', 'bb'), 16,000 characters (over the budget)", expression: "request.attributes.s.replace('a', 'bb').size() > 0", attributes: { s: A(16_000) } },
  { family: "strings", name: "replace('', 'x'), 1,500 characters", expression: "request.attributes.s.replace('', 'x').size() > 0", attributes: { s: A(1500) } },
  { family: "strings", name: "lowerAscii(), 16,000 characters", expression: "request.attributes.s.lowerAscii().size() > 0", attributes: { s: "A".repeat(16_000) } },
  { family: "strings", name: "strings.quote(), 16,000 characters", expression: "strings.quote(request.attributes.s).size() > 0", attributes: { s: '"'.repeat(16_000) } },
  { family: "strings", name: "contains(), 10,000 a's for 6,000 a's and b", expression: "request.attributes.s.contains(request.attributes.t)", attributes: { s: A(10_000), t: A(6000) + "b" } },
  { family: "strings", name: "indexOf(), 10,000 a's for 6,000 a's and b", expression: "request.attributes.s.indexOf(request.attributes.t) >= 0", attributes: { s: A(10_000), t: A(6000) + "b" } },
  { family: "strings", name: "size(), 8,000 astral characters", expression: "request.attributes.s.size() > 0", attributes: { s: "😀".repeat(4000) } },
  // format: each %.Nf clause builds an Intl.NumberFormat; %s of a map sorts its keys by locale.
  { family: "format", name: "'%.3f' of each of 8,000 numbers", expression: "request.attributes.l.map(x, '%.3f'.format([x])).size() > 0", attributes: { l: list(8000, (i) => i + 0.5) } },
  { family: "format", name: "'%.3f' of each of 300 numbers (a list literal)", expression: `[${list(300, (i) => `${i}.5`).join(",")}].map(x, '%.3f'.format([x])).size() > 0` },
  { family: "format", name: "50 clauses '%.2f' in one format string", expression: `'${"%.2f".repeat(50)}'.format([${list(50, (i) => `${i}.25`).join(",")}]).size() > 0` },
  { family: "format", name: "'%s' of a map of 1,500 keys", expression: "'%s'.format([request.attributes.m]).size() > 0", attributes: { m: map(1500, (i) => `k${(i * 7919) % 1500}`, () => "v") } },
  { family: "format", name: "'%x' of 8,000 characters", expression: "'%x'.format([request.attributes.s]).size() > 0", attributes: { s: "é".repeat(8000) } },
  // Equality and membership walk nested values; a list literal can hold the same list many times.
  { family: "equality", name: "list == list, 12,000 elements", expression: "request.attributes.l == request.attributes.l", attributes: { l: list(12_000, () => true) } },
  { family: "equality", name: "[l x 8] == [l x 8], l of 1,400 elements", expression: `[${list(8, () => "request.attributes.l").join(", ")}] == [${list(8, () => "request.attributes.l").join(", ")}]`, attributes: { l: list(1400, () => true) } },
  { family: "equality", name: "'z' in list, 16,000 elements", expression: "'z' in request.attributes.l", attributes: { l: list(16_000, () => true) } },
  { family: "equality", name: "map == map, 1,800 keys", expression: "request.attributes.m == request.attributes.m", attributes: { m: map(1800, (i) => `k${i}`, () => true) } },
  // Comprehensions over request attributes (one level: nesting is refused when written).
  { family: "comprehensions", name: "all(x, true), 9,000 elements", expression: "request.attributes.l.all(x, true)", attributes: { l: list(9000, () => true) } },
  { family: "comprehensions", name: "exists(x, x == 'z'), 5,500 elements", expression: "request.attributes.l.exists(x, x == 'z')", attributes: { l: list(5500, () => true) } },
  { family: "comprehensions", name: "exists(x, !x && (x || !x) && ...), 2,200 elements", expression: "request.attributes.l.exists(x, !x && (x || !x) && !x && (x || !x))", attributes: { l: list(2200, () => true) } },
  { family: "comprehensions", name: "map(x, x + 1.0), 16,000 elements", expression: "request.attributes.l.map(x, x + 1.0).size() > 0", attributes: { l: list(16_000, () => 1) } },
  { family: "comprehensions", name: "filter(x, x), 16,000 elements", expression: "request.attributes.l.filter(x, x).size() > 0", attributes: { l: list(16_000, () => true) } },
  { family: "comprehensions", name: "40 x all(x, true), 200 elements", expression: list(40, () => "request.attributes.l.all(x, true)").join(" && "), attributes: { l: list(200, () => true) } },
  { family: "comprehensions", name: "all over a map of 2,000 keys", expression: "request.attributes.m.all(k, k != '')", attributes: { m: map(2000, (i) => `k${i}`, () => true) } },
  // Conversions and time.
  { family: "conversions", name: "double(), bytes() of 16,000 digits", expression: "bytes(request.attributes.s).size() > 0 && double(request.attributes.s) > 0.0", attributes: { s: "9".repeat(16_000) } },
  { family: "conversions", name: "timestamp() of each of 400 strings", expression: "request.attributes.l.all(x, timestamp(x) > timestamp(0))", attributes: { l: list(400, () => "2026-01-01T00:00:00.123456789Z") } },
  { family: "conversions", name: "duration() of each of 900 strings", expression: "request.attributes.l.all(x, duration(x) > duration('0s'))", attributes: { l: list(900, () => "1h2m3s4ms5us6ns") } },
  { family: "time zones", name: "getHours('Europe/Paris') for each of 130 elements", expression: `[${list(130, () => "0").join(",")}].all(x, request.time.getHours('Europe/Paris') >= x)` },
  { family: "time zones", name: "getDayOfYear('+05:30') for each of 130 elements", expression: `[${list(130, () => "0").join(",")}].all(x, request.time.getDayOfYear('+05:30') >= x)` },
  // The interpreter alone.
  { family: "interpreter", name: "500-term && of true (4,000 characters)", expression: list(500, () => "true").join(" && ") },
  { family: "interpreter", name: "a 1,300-element list literal in all(x, x == 0)", expression: `[${list(1300, () => "0").join(",")}].all(x, x == 0)` },
];

/** Size as CheckAccess counts it (characters of keys and strings, plus one per value). */
function attributesSize(value: unknown): number {
  if (typeof value === "string") return 1 + value.length;
  if (Array.isArray(value)) return 1 + value.reduce((n: number, v) => n + attributesSize(v), 0);
  if (value instanceof Map) return 1 + [...value].reduce((n: number, [k, v]) => n + k.length + attributesSize(v), 0);
  if (value && typeof value === "object") return Object.entries(value).reduce((n, [k, v]) => n + k.length + attributesSize(v), 0);
  return 1;
}

function inputOf(attributes: Record<string, unknown>): ConditionInput {
  return {
    requestTime: timestampFromMs(Date.UTC(2026, 5, 1)),
    attributes: new Map(Object.entries(attributes)),
    resourceName: "projects/prj_bench",
    resourceType: "project",
  };
}

interface Row {
  family: string;
  name: string;
  outcome: string;
  micros: number;
  units: number;
}

/** CPU time of this process (user + system), in µs: unlike wall time, not inflated by other processes. */
function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** Median CPU time of one evaluation, over batches long enough for the clock (the first batch warms the JIT up). */
function measure(c: Case): Row {
  const compiled = compileCondition(c.expression);
  if (typeof compiled === "string") return { family: c.family, name: c.name, outcome: `refused when written: ${compiled}`, micros: NaN, units: NaN };
  const attributes = c.attributes ?? c.fresh?.(0) ?? {};
  if (attributesSize(attributes) > MAX_ATTRIBUTES_SIZE) throw new Error(`${c.name}: attributes over CheckAccess's limit`);
  const fixed = inputOf(attributes);
  let units = 0;
  let outcome = "";
  let i = 0;
  const evaluate = () => {
    const input = c.fresh ? inputOf(c.fresh(++i)) : fixed;
    const budget = new ConditionBudget(EVALUATION_BUDGET);
    const result = compiled.evaluate(input, budget);
    units = budget.spent;
    outcome = result instanceof Error ? `error: ${result.message}` : String(result);
  };
  const batches: number[] = [];
  for (let batch = 0; batch < 6; batch++) {
    const started = cpuMicros();
    let n = 0;
    do {
      evaluate();
      n++;
    } while (cpuMicros() - started < 20_000 && n < 10_000);
    if (batch > 0) batches.push((cpuMicros() - started) / n);
  }
  batches.sort((a, b) => a - b);
  return { family: c.family, name: c.name, outcome, micros: batches[Math.floor(batches.length / 2)]!, units };
}

/** Conditions compiled when written: each run a new expression (`i` makes it unique), so nothing is cached. */
const COMPILES: { name: string; expression: (i: number) => string }[] = [
  { name: "4,000 characters of resource.name == '...' && ...", expression: (i) => list(150, (k) => `resource.name == 'p${i}x${k}'`).join(" && ").slice(0, 4000).replace(/ && [^&]*$/, "") },
  { name: "4,000 characters with a syntax error at the end", expression: (i) => `${list(150, (k) => `resource.name == 'p${i}x${k}'`).join(" && ").slice(0, 3990)} &&` },
  { name: "a constant pattern of size 4,752", expression: (i) => `'aa'.matches('(a|aa|aaa|aaaa){250}|z${i}')` },
  { name: "4 constant patterns of size ~1,150", expression: (i) => list(4, (k) => `'aa'.matches('(a|aa|aaa|aaaa){60}|z${i}x${k}')`).join(" || ") },
  { name: "a trial run over a 1,300-element list literal", expression: (i) => `[${list(1300, () => "0").join(",")}].all(x, x != ${i})` },
];

function measureCompile(c: (typeof COMPILES)[number]): Row {
  let i = 0;
  // The parser's first compiles of a kind are several times slower (the JIT): a server compiles many.
  for (; i < 30; i++) compileCondition(c.expression(i));
  let units = 0;
  let outcome = "";
  const batches: number[] = [];
  for (let batch = 0; batch < 6; batch++) {
    const started = cpuMicros();
    let n = 0;
    do {
      const budget = new ConditionBudget(Number.MAX_SAFE_INTEGER);
      const compiled = compileCondition(c.expression(++i), budget);
      units = budget.spent;
      outcome = typeof compiled === "string" ? `refused: ${compiled}` : "compiled";
      n++;
    } while ((cpuMicros() - started < 20_000 || n < 5) && n < 1000);
    if (batch > 0) batches.push((cpuMicros() - started) / n);
  }
  batches.sort((a, b) => a - b);
  return { family: "write time", name: c.name, outcome, micros: batches[Math.floor(batches.length / 2)]!, units };
}

const rows = CASES.filter((c) => values.only === undefined || c.family === values.only || c.name.includes(values.only)).map((c) => {
  const row = measure(c);
  console.error(`${row.family.padEnd(14)} ${row.name.padEnd(64)} ${row.micros.toFixed(0).padStart(8)} µs ${String(row.units).padStart(9)} units  ${row.outcome.slice(0, 100)}`);
  return row;
});

const compileRows = COMPILES.filter((c) => values.only === undefined || c.name.includes(values.only)).map((c) => {
  const row = measureCompile(c);
  console.error(`${row.family.padEnd(14)} ${row.name.padEnd(64)} ${row.micros.toFixed(0).padStart(8)} µs ${String(row.units).padStart(9)} units  ${row.outcome.slice(0, 100)}`);
  return row;
});

const fmt = (n: number, digits = 0) => (Number.isNaN(n) ? "—" : n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const shorten = (s: string) => (s.length > 90 ? `${s.slice(0, 87)}...` : s);
const ratio = (r: Row) => (r.units > 0 ? (r.micros / r.units) * 1000 : NaN);
const worst = Math.max(...rows.map(ratio).filter((n) => !Number.isNaN(n)));
const worstCompile = Math.max(...compileRows.map(ratio).filter((n) => !Number.isNaN(n)));
const table = (list: Row[]) => list.map((r) => `| ${r.family} | ${r.name.replaceAll("|", "\\|")} | ${shorten(r.outcome).replaceAll("|", "\\|")} | ${fmt(r.micros)} | ${fmt(r.units)} | ${fmt(ratio(r), 1)} |`);
const lines = [
  `Seed ${SEED}; \`npm run bench:conditions\` on ${process.version}. Each row is one condition evaluated in-process against`,
  "the attributes named (within CheckAccess's 16,384 limit): CPU time of one evaluation (median of 5 batches), the cost units the meter",
  `charged it, and µs per 1,000 units. One evaluation may spend ${fmt(EVALUATION_BUDGET)} units; a call's conditions together`,
  "as much (docs/security.md, \"Condition cost\").",
  "",
  "| family | worst case | outcome | µs per evaluation | units charged | µs per 1,000 units |",
  "| --- | --- | --- | ---: | ---: | ---: |",
  ...table(rows),
  "",
  `Worst ratio: ${fmt(worst, 1)} µs per 1,000 units, so a budget of ${fmt(EVALUATION_BUDGET)} units is at most ~${fmt((worst * EVALUATION_BUDGET) / 1e6)} ms of CPU here.`,
  "",
  "Before issue 25 (measured once, wall time, on the same machine under load): `matches` compiled its pattern at every",
  "call (@bufbuild/re2, whose DFA falls back to a set-based NFA) and was charged by the pattern's length, so",
  "`(a|aa|aaa|aaaa){1000}` — 22 characters, a 12,000-instruction program — passed every limit and took 2.1 s over",
  "3,900 a's and 17.4 s anchored (`^…$`); eight such conditions stalled every tenant. Now its size (19,002) is refused",
  "when written, a match is charged the text's length times the pattern's size before it runs, and the matcher is RE2's",
  "NFA, with no DFA to build.",
  "",
  "Compiling a condition when it is written (a new expression each time: nothing cached), against the units it is",
  `charged to its write, whose conditions may cost ${fmt(WRITE_BUDGET)} units together:`,
  "",
  "| family | condition | outcome | µs per compile | units charged | µs per 1,000 units |",
  "| --- | --- | --- | ---: | ---: | ---: |",
  ...table(compileRows),
  "",
  `Worst ratio: ${fmt(worstCompile, 1)} µs per 1,000 units, so one write's conditions take at most ~${fmt((worstCompile * WRITE_BUDGET) / 1e6)} ms of CPU to compile here.`,
];
console.log(lines.join("\n"));
if (!values["no-doc"] && values.only === undefined) writeDocSection("Condition cost (issue 25)", lines.join("\n"));
