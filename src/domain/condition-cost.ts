// What a condition costs, in units of about a tenth of a microsecond of CPU: estimated from its expression when it is
// written, charged while it runs (docs/security.md, "Condition cost"). A charge is made before the work it pays for,
// so a call over the budget never starts. bench/condition-cost.ts measures every function's worst case against its
// charge: a budget in units is a budget in time. @bufbuild/cel 0.6 has neither an estimator nor a runtime limit.
import { celFunc, isCelError, isCelList, isCelMap, CelScalar, type CelFunc, type CelResult } from "@bufbuild/cel";
import { MAX_PATTERN_SIZE, patternSize, type Regex } from "./regex.js";

/** Characters of a string (or elements of a list) that a condition may build, at write time and at run time. */
export const MAX_RESULT_SIZE = 65_536;
/** Size the write-time estimate assumes for a value read from the request (an attribute, the resource name). */
export const ESTIMATED_VARIABLE_SIZE = 1024;

/** A function call, on top of the characters and elements it reads and builds (~2.5 µs of the interpreter's work). */
export const CALL_COST = 25;
/** Each node of the expression, once per evaluation; a comprehension's body, once per element. */
export const NODE_COST = 2;
/**
 * Compiling a regular expression: once (re2js's set-up, ~250 µs), and per unit of its size. A condition's constant
 * patterns are compiled with it (and charged to its write); a pattern computed at run time is charged at every use,
 * so that what an evaluation is charged never depends on what another one left compiled.
 */
export const COMPILE_BASE_COST = 3_000;
export const COMPILE_COST = 50;
/** Matching a regular expression, per character of text and unit of pattern size (RE2: linear in both). */
export const MATCH_COST = 1;
/** Added to a pattern's size for each character matched: the machine's own work per character. */
export const MATCH_STEP_SIZE = 10;
/** A `format` clause (`%.2f` builds an Intl.NumberFormat: ~25 µs). */
export const FORMAT_CLAUSE_COST = 500;
/** A time zone argument (`getHours("Europe/Paris")` builds an Intl.DateTimeFormat: 100-200 µs). */
export const TIME_ZONE_COST = 5_000;
/** Per character or element of a value that equality, `in` (a list) or `join` walks, nested ones included. */
export const WALK_COST = 4;
/** Per character or element of a value that `format` walks (a map's keys are sorted by locale). */
export const FORMAT_WALK_COST = 12;
/** Parsing a timestamp or a duration from a string (~20 µs). */
export const PARSE_COST = 400;

// ---- Run time ------------------------------------------------------------------------------------------------------

const NO_PATTERNS: ReadonlyMap<string, Regex> = new Map();

/** The evaluation in progress (evaluations are synchronous: one at a time). */
const meter = { spent: 0, limit: 0, exceeded: "", stopped: undefined as string | undefined, patterns: NO_PATTERNS };

/**
 * Starts metering an evaluation that may spend `limit` units; `exceeded` is the error past it. `patterns` are the
 * condition's constant patterns, compiled with it.
 */
export function startMeter(limit: number, exceeded: string, patterns: ReadonlyMap<string, Regex> = NO_PATTERNS): void {
  meter.spent = 0;
  meter.limit = limit;
  meter.exceeded = exceeded;
  meter.stopped = undefined;
  meter.patterns = patterns;
}

/** The evaluated condition's own compiled `pattern`, if it is one of its constants. */
export function compiledWithCondition(pattern: string): Regex | undefined {
  return meter.patterns.get(pattern);
}

/** What the evaluation spent, and why it was stopped (a limit), if it was. */
export function meterReading(): { spent: number; stopped: string | undefined } {
  return { spent: meter.spent, stopped: meter.stopped };
}

/** Charges `units`; past the limit the evaluation stops (a throw, which @bufbuild/cel makes the expression's error). */
export function charge(units: number): void {
  meter.spent += units;
  if (meter.spent > meter.limit) stop(meter.exceeded);
}

function stop(reason: string): never {
  meter.stopped ??= reason;
  throw new Error(meter.stopped);
}

/**
 * Characters and elements in `value`, nested ones included (equality, `in` and `format` walk them all), counted up to
 * just past `cap`: a list that holds the same list many times is large to walk, however cheaply it was built.
 */
export function sizeOf(value: unknown, cap = Number.MAX_SAFE_INTEGER): number {
  if (typeof value === "string" || value instanceof Uint8Array) return value.length;
  if (!isCelList(value) && !isCelMap(value)) return 1;
  let total = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0 && total <= cap) {
    const v = pending.pop();
    if (typeof v === "string" || v instanceof Uint8Array) total += v.length;
    else if (isCelList(v)) {
      total += 1;
      for (const item of v) pending.push(item);
    } else if (isCelMap(v)) {
      total += 1;
      for (const [key, item] of v) pending.push(key, item);
    } else total += 1;
  }
  return total;
}

/** Elements of a list or entries of a map, the length of a string: what a function's result holds. */
function lengthOf(value: unknown): number {
  if (typeof value === "string" || value instanceof Uint8Array) return value.length;
  if (isCelList(value) || isCelMap(value)) return value.size;
  return 1;
}

/** `func` charging the meter before it runs, and refusing results over MAX_RESULT_SIZE. */
export function metered(func: CelFunc): CelFunc {
  const call = (id: number, target: CelValueArg, args: CelValueArg[]): CelResult | undefined => {
    if (meter.stopped !== undefined) stop(meter.stopped);
    const before = resultBound(func.name, target, args);
    if (before > MAX_RESULT_SIZE) stop(`${func.name} would build a value of ${before} characters; at most ${MAX_RESULT_SIZE}`);
    const units = callCost(func.name, target, args, before);
    charge(units);
    const result = func.call(id as never, target as never, args as never);
    // Another overload of the same name answers (and is charged) instead.
    if (result === undefined) meter.spent -= units;
    if (result === undefined || isCelError(result)) return result;
    const size = lengthOf(result);
    if (size > MAX_RESULT_SIZE) stop(`${func.name} built a value of ${size} characters or elements; at most ${MAX_RESULT_SIZE}`);
    charge(size);
    return result;
  };
  // Everything else (name, id, types, the private brand) comes from the original.
  return Object.create(func, { call: { value: call } }) as CelFunc;
}

type CelValueArg = Parameters<CelFunc["call"]>[1];

const TIME_FUNCTIONS = new Set([
  "getSeconds",
  "getMinutes",
  "getHours",
  "getMilliseconds",
  "getFullYear",
  "getMonth",
  "getDate",
  "getDayOfMonth",
  "getDayOfWeek",
  "getDayOfYear",
]);

/** Functions that walk their arguments whole (a list's elements' elements...). */
const WALKING: Record<string, number> = { "_==_": WALK_COST, "_!=_": WALK_COST, "@in": WALK_COST, join: WALK_COST, format: FORMAT_WALK_COST };

/** Units a call costs beyond its result's size, known before it runs. */
function callCost(name: string, target: unknown, args: unknown[], resultSize: number): number {
  const all = target === undefined ? args : [target, ...args];
  // `x in map` is a lookup; `x in list` compares x with every element.
  const walk = name === "@in" && !isCelList(args[1]) ? undefined : WALKING[name];
  let units = CALL_COST;
  for (const arg of all) units += walk ? walk * sizeOf(arg, (meter.limit - meter.spent - units) / walk) : lengthOf(arg);
  switch (name) {
    case "matches": {
      const [text, pattern] = [all[0], all[all.length - 1]];
      if (typeof text !== "string" || typeof pattern !== "string") return units;
      const size = patternSize(pattern);
      // A pattern over the limit is refused before it is compiled.
      if (size > MAX_PATTERN_SIZE) return units;
      const compiling = meter.patterns.has(pattern) ? 0 : COMPILE_BASE_COST + COMPILE_COST * size;
      return units + compiling + MATCH_COST * text.length * (size + MATCH_STEP_SIZE);
    }
    case "replace":
      // @bufbuild/cel's replace copies the whole string once per match; copies run ~100 characters per unit.
      return units + Math.ceil((resultSize * replacements(target, args)) / 100);
    case "format":
      return units + FORMAT_CLAUSE_COST * clauses(target);
    case "timestamp":
    case "duration":
      return typeof args[0] === "string" ? units + PARSE_COST : units;
    default:
      return TIME_FUNCTIONS.has(name) && args.length > 0 ? units + TIME_ZONE_COST : units;
  }
}

/** `%` clauses of a format string (at most; `%%` counts too). */
function clauses(format: unknown): number {
  if (typeof format !== "string") return 0;
  let n = 0;
  for (let i = format.indexOf("%"); i >= 0; i = format.indexOf("%", i + 1)) n++;
  return n;
}

/** Size of the result of an expanding call, known before it runs, so that the call itself cannot take long. */
function resultBound(name: string, target: unknown, args: unknown[]): number {
  switch (name) {
    case "replace": {
      const [s, old, replacement] = [target, args[0], args[1]];
      if (typeof s !== "string" || typeof old !== "string" || typeof replacement !== "string") return 0;
      return s.length + replacements(target, args) * replacement.length;
    }
    case "join":
    case "format": {
      const list = name === "join" ? target : args[0];
      const extra = name === "join" ? lengthOf(args[0]) : lengthOf(target);
      if (!isCelList(list)) return 0;
      let total = extra;
      for (const item of list) {
        total += sizeOf(item, MAX_RESULT_SIZE - total) + extra;
        if (total > MAX_RESULT_SIZE) break;
      }
      return total;
    }
    default:
      return 0;
  }
}

function replacements(target: unknown, args: unknown[]): number {
  const [s, old, limit] = [target, args[0], args[2]];
  if (typeof s !== "string" || typeof old !== "string") return 0;
  const all = old === "" ? s.length + 1 : s.split(old).length - 1;
  return typeof limit === "bigint" && limit >= 0n ? Math.min(all, Number(limit)) : all;
}

/** The name of the function that charges a comprehension for its elements (not a name an expression can write). */
export const ITERATE = "@iterate";

/** `@iterate(range, units)`: `range`, after charging `units` per element for the comprehension over it. */
export const iterate: CelFunc = celFunc(ITERATE, [CelScalar.DYN, CelScalar.INT], CelScalar.DYN, (range, units) => {
  if (meter.stopped !== undefined) stop(meter.stopped);
  charge(lengthOf(range) * Number(units));
  return range as never;
});

// ---- Write time ----------------------------------------------------------------------------------------------------

type ExprKind = { case?: string; value?: unknown };

export interface SyntaxNode {
  id?: bigint;
  exprKind?: ExprKind;
}

/** The sub-expressions of `expr`, in the tree as @bufbuild/cel parses it. */
export function children(expr: SyntaxNode): SyntaxNode[] {
  const kind = expr.exprKind;
  const v = kind?.value as Record<string, unknown> | undefined;
  switch (kind?.case) {
    case "callExpr":
      return [v!.target, ...(v!.args as unknown[])].filter(Boolean) as SyntaxNode[];
    case "selectExpr":
      return [v!.operand].filter(Boolean) as SyntaxNode[];
    case "listExpr":
      return v!.elements as SyntaxNode[];
    case "structExpr":
      return (v!.entries as { keyKind: { case?: string; value?: unknown }; value?: SyntaxNode }[]).flatMap((e) =>
        [e.keyKind.case === "mapKey" ? e.keyKind.value : undefined, e.value].filter(Boolean),
      ) as SyntaxNode[];
    case "comprehensionExpr":
      return ["iterRange", "accuInit", "loopCondition", "loopStep", "result"].map((k) => v![k]).filter(Boolean) as SyntaxNode[];
    default:
      return [];
  }
}

/** Nodes in the tree (iteratively: a pathological tree cannot overflow the stack here). */
export function nodeCount(root: SyntaxNode | undefined): number {
  let count = 0;
  const pending = root ? [root] : [];
  while (pending.length > 0) {
    count++;
    pending.push(...children(pending.pop()!));
  }
  return count;
}

export function constantString(expr: unknown): string | undefined {
  const kind = (expr as { exprKind?: { case?: string; value?: { constantKind?: { case?: string; value?: unknown } } } })
    ?.exprKind;
  const constant = kind?.case === "constExpr" ? kind.value?.constantKind : undefined;
  return constant?.case === "stringValue" ? (constant.value as string) : undefined;
}

/**
 * Makes every comprehension of the tree charge NODE_COST per node of its body for each element, before it iterates:
 * its range `r` becomes `@iterate(r, units)`. Without it, `list.all(x, true)` would run uncharged.
 */
export function chargeIterations(root: SyntaxNode): void {
  const pending = [root];
  while (pending.length > 0) {
    const node = pending.pop()!;
    pending.push(...children(node));
    if (node.exprKind?.case !== "comprehensionExpr") continue;
    const c = node.exprKind.value as Record<string, SyntaxNode>;
    const units = NODE_COST * (nodeCount(c.loopStep) + nodeCount(c.loopCondition));
    const constant = { id: 0n, exprKind: { case: "constExpr", value: { constantKind: { case: "int64Value", value: BigInt(units) } } } };
    c.iterRange = { id: node.id, exprKind: { case: "callExpr", value: { function: ITERATE, args: [c.iterRange, constant] } } };
  }
}

export interface Estimate {
  /** Work, in cost units. */
  cost: number;
  /** Largest string (characters) or list (elements) the expression can produce. */
  size: number;
}

// Functions whose result can be larger than their inputs, and how much.
const EXPANDING: Record<string, (args: Estimate[]) => number> = {
  "_+_": (a) => a.reduce((n, e) => n + e.size, 0),
  // Every character of the input may be replaced by the replacement (an empty `old` matches between characters too).
  replace: ([s, , replacement]) => (s!.size + 1) * Math.max(1, replacement?.size ?? 1),
  join: ([list, separator]) => list!.size * (ESTIMATED_VARIABLE_SIZE + (separator?.size ?? 0)),
  format: ([f, list]) => f!.size + (list?.size ?? 0) * ESTIMATED_VARIABLE_SIZE,
  "strings.quote": ([s]) => 6 * s!.size + 2,
  split: ([s]) => s!.size + 1,
};

/**
 * A worst-case estimate of an expression's cost and result size (the approach of Kubernetes' CEL cost budgets), in
 * about the units the run time charges (a sanity check when it is written: the run time's meter is the bound).
 * `scope` sizes the variables a comprehension binds.
 */
export function estimateCost(expr: SyntaxNode, scope: ReadonlyMap<string, number> = new Map()): Estimate {
  const kind = expr.exprKind;
  switch (kind?.case) {
    case "constExpr": {
      const text = constantString(expr);
      return { cost: 1, size: text?.length ?? 1 };
    }
    case "identExpr":
      return { cost: 1, size: scope.get((kind.value as { name: string }).name) ?? ESTIMATED_VARIABLE_SIZE };
    case "selectExpr":
      return { cost: 1 + sum(children(expr).map((c) => estimateCost(c, scope).cost)), size: ESTIMATED_VARIABLE_SIZE };
    case "listExpr":
    case "structExpr": {
      const parts = children(expr).map((c) => estimateCost(c, scope));
      return { cost: 1 + sum(parts.map((p) => p.cost)), size: Math.max(parts.length, 1) };
    }
    case "comprehensionExpr": {
      const c = kind.value as { iterVar: string; accuVar: string } & Record<string, SyntaxNode>;
      const range = estimateCost(c.iterRange!, scope);
      const accu = estimateCost(c.accuInit!, scope);
      // The elements of a list hold at most its size in all: one element may be that large, not every one.
      const step = (element: number) => {
        const inner = new Map(scope).set(c.iterVar, element).set(c.accuVar, Math.max(accu.size, range.size));
        return estimateCost(c.loopStep!, inner).cost + estimateCost(c.loopCondition!, inner).cost;
      };
      const result = estimateCost(c.result!, new Map(scope).set(c.accuVar, range.size));
      return { cost: range.cost + accu.cost + range.size * step(1) + step(range.size) + result.cost, size: range.size };
    }
    case "callExpr": {
      const call = kind.value as { function: string; target?: SyntaxNode; args: SyntaxNode[] };
      const operands = [call.target, ...call.args].filter((a): a is SyntaxNode => a !== undefined);
      const args = operands.map((a) => estimateCost(a, scope));
      const inputs = sum(args.map((a) => a.size));
      const size = EXPANDING[call.function]?.(args) ?? Math.max(1, ...args.map((a) => a.size));
      const work = workOf(call.function, args, inputs, size, operands);
      return { cost: sum(args.map((a) => a.cost)) + work, size };
    }
    default:
      return { cost: 1, size: 1 };
  }
}

/** Operators the planner implements itself rather than through the function resolver. */
export const BUILT_IN_OPERATORS = new Set([
  "_&&_",
  "_||_",
  "_?_:_",
  "_[_]",
  "_[?_]",
  "_?._",
  "@not_strictly_false",
  "__not_strictly_false__",
]);

// Operators that look at one element or stop at the first difference.
const CHEAP = new Set([...BUILT_IN_OPERATORS, "!_", "-_", "size"]);
const COMPARISONS = new Set(["_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_", "startsWith", "endsWith"]);

function workOf(name: string, args: Estimate[], inputs: number, size: number, operands: SyntaxNode[]): number {
  if (CHEAP.has(name)) return 1;
  if (COMPARISONS.has(name)) return 1 + Math.min(...args.map((a) => a.size));
  if (name === "matches") {
    // RE2: compiling is linear in the pattern's size, matching in the text's times the pattern's.
    const pattern = constantString(operands[operands.length - 1]);
    const bound = pattern === undefined ? MAX_PATTERN_SIZE : patternSize(pattern);
    const compiling = COMPILE_BASE_COST + COMPILE_COST * bound;
    return compiling + MATCH_COST * args[0]!.size * (bound + MATCH_STEP_SIZE);
  }
  if (name === "format") {
    const format = constantString(operands[0]);
    return inputs + size + FORMAT_CLAUSE_COST * (format === undefined ? Math.ceil(args[0]!.size / 2) : clauses(format));
  }
  if (TIME_FUNCTIONS.has(name) && args.length > 1) return 1 + TIME_ZONE_COST;
  return inputs + size;
}

export function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
