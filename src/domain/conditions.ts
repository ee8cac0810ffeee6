// IAM conditions: CEL expressions over `request.time`, `request.attributes`, `resource.name` and `resource.type`,
// compiled once (cached by expression text) and evaluated against a request. Every condition's cost is bounded twice
// (docs/security.md, "Limits"): estimated when it is written, metered while it runs.
import { celEnv, isCelError, isCelList, isCelMap, mapType, parse, plan, CelScalar, type CelFunc, type CelResult } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";

export const MAX_EXPRESSION_LENGTH = 4096;
/** Depth of the expression tree: the planner recurses once per level (a 2,000-term sum overflowed its stack). */
export const MAX_NESTING_DEPTH = 32;
/** Characters of a string (or elements of a list) that a condition may build, at write time and at run time. */
export const MAX_RESULT_SIZE = 65_536;
/** Cost units (roughly one per character or element handled) a condition may be estimated to need at write time. */
export const MAX_ESTIMATED_COST = 1_000_000;
/** Cost units one evaluation may spend; past it the evaluation stops with an error (the unknown state). */
export const EVALUATION_BUDGET = 1_000_000;
/** Size the write-time estimate assumes for a value read from the request (an attribute, the resource name). */
export const ESTIMATED_VARIABLE_SIZE = 1024;

/** What a condition can read. */
export interface ConditionInput {
  requestTime: Timestamp;
  attributes: ReadonlyMap<string, unknown>;
  resourceName: string;
  resourceType: string;
}

export interface CompiledCondition {
  /** true or false, or the evaluation error (the binding then does not apply). */
  evaluate(input: ConditionInput): boolean | Error;
}

const FIELDS: Record<string, readonly string[]> = {
  request: ["time", "attributes"],
  resource: ["name", "type"],
};

const env = celEnv({
  // Every function metered: cel-es has no cost tracking of its own (0.6), and an evaluation cannot be interrupted.
  funcs: [...celEnv({ funcs: strings }).funcs].map(metered),
  variables: {
    request: mapType(CelScalar.STRING, CelScalar.DYN),
    resource: mapType(CelScalar.STRING, CelScalar.STRING),
  },
});

// Errors that no input can avoid: the expression itself is wrong.
const STATIC_ERRORS = ["unbound function", "unresolved attribute", "no matching overload", "Failed to parse"];

const SAMPLE: ConditionInput = {
  requestTime: timestampFromMs(0),
  attributes: new Map(),
  resourceName: "collection/id",
  resourceType: "type",
};

const cache = new Map<string, CompiledCondition | string>();
const CACHE_LIMIT = 10_000;

/** The compiled condition, or a description of why the expression is not a valid condition. */
export function compileCondition(expression: string): CompiledCondition | string {
  let compiled = cache.get(expression);
  if (compiled === undefined) {
    compiled = compile(expression);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(expression, compiled);
  }
  return compiled;
}

function compile(expression: string): CompiledCondition | string {
  if (expression.trim() === "") return "expression is empty";
  if (expression.length > MAX_EXPRESSION_LENGTH) return `expression is longer than ${MAX_EXPRESSION_LENGTH} characters`;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(expression);
  } catch (e) {
    // The parser recurses too: a deep enough nesting overflows its stack before the depth check below can run.
    if (e instanceof RangeError) return `expression is nested more than ${MAX_NESTING_DEPTH} levels deep`;
    return `syntax error: ${(e as Error).message}`;
  }
  if (deeperThan(parsed.expr, MAX_NESTING_DEPTH)) {
    return `expression is nested more than ${MAX_NESTING_DEPTH} levels deep; split it or use && and || (which stay shallow)`;
  }
  const problem = findProblem(parsed.expr);
  if (problem) return problem;
  const estimate = estimateCost(parsed.expr);
  if (estimate.size > MAX_RESULT_SIZE) {
    return `expression may build a value of ${estimate.size} characters or elements; at most ${MAX_RESULT_SIZE}`;
  }
  if (estimate.cost > MAX_ESTIMATED_COST) {
    return `expression is too expensive: estimated cost ${estimate.cost}, at most ${MAX_ESTIMATED_COST}`;
  }
  const run = plan(env, parsed);
  const evaluate = (input: ConditionInput): boolean | Error => {
    meter.spent = 0;
    meter.stopped = undefined;
    const result = run(bindings(input));
    // A call over a limit throws, which cel-es makes the expression's error; `<over a limit> || true` must not win.
    return meter.stopped !== undefined ? new Error(meter.stopped) : toBoolean(result);
  };
  // A trial run on sample input finds type errors (cel-es has no public checker); data-dependent errors are fine.
  const trial = evaluate(SAMPLE);
  if (trial instanceof Error) {
    if (STATIC_ERRORS.some((s) => trial.message.includes(s))) return `type error: ${trial.message}`;
    if (trial.message.includes("must evaluate to a bool")) return trial.message;
  }
  return { evaluate };
}

function bindings(input: ConditionInput) {
  return {
    request: new Map<string, unknown>([
      ["time", input.requestTime],
      ["attributes", input.attributes],
    ]),
    resource: new Map([
      ["name", input.resourceName],
      ["type", input.resourceType],
    ]),
  } as never;
}

function toBoolean(result: CelResult): boolean | Error {
  if (isCelError(result)) return new Error(result.message);
  if (typeof result === "boolean") return result;
  return new Error(`the condition must evaluate to a bool, not ${typeof result}`);
}

// Operators the planner implements itself rather than through the function resolver.
const BUILT_IN_OPERATORS = new Set(["_&&_", "_||_", "_?_:_", "_[_]", "_[?_]", "_?._", "@not_strictly_false", "__not_strictly_false__"]);

/** Comprehensions (`all`, `exists`, `map`, ...) may not nest: a nested one costs |list|^depth per evaluation. */
export const MAX_COMPREHENSION_DEPTH = 1;

type ExprKind = { case?: string; value?: unknown };

/** The first problem a static check finds in the expression tree, or undefined. */
function findProblem(expr: unknown, comprehensionDepth = 0): string | undefined {
  if (expr === null || typeof expr !== "object") return undefined;
  const kind = (expr as { exprKind?: ExprKind }).exprKind;
  let depth = comprehensionDepth;
  if (kind?.case !== undefined) {
    const problem = unknownField(kind) ?? unknownFunction(kind) ?? invalidConstantRegex(kind);
    if (problem) return problem;
    if (kind.case === "comprehensionExpr" && ++depth > MAX_COMPREHENSION_DEPTH) {
      return "comprehensions (all, exists, exists_one, map, filter) may not be nested: their cost would grow as a power of the list size";
    }
  }
  for (const value of Object.values(expr)) {
    for (const child of Array.isArray(value) ? value : [value]) {
      const found = findProblem(child, depth);
      if (found) return found;
    }
  }
  return undefined;
}

// The trial run cannot see a call it short-circuits past (`resource.type == "x" && isAdmin()`); find those here.
function unknownFunction(kind: ExprKind): string | undefined {
  if (kind.case !== "callExpr") return undefined;
  const call = kind.value as { function: string; target?: unknown };
  const qualified = qualifiedName(call.target);
  const known =
    BUILT_IN_OPERATORS.has(call.function) ||
    env.funcs.find(call.function) !== undefined ||
    (qualified !== undefined && env.funcs.find(`${qualified}.${call.function}`) !== undefined);
  return known ? undefined : `type error: unknown function "${call.function}"`;
}

/** `a.b` for a target that is a dotted name (a namespaced function such as `strings.quote`). */
function qualifiedName(target: unknown): string | undefined {
  const kind = (target as { exprKind?: { case?: string; value?: { name?: string; field?: string; operand?: unknown } } })
    ?.exprKind;
  if (kind?.case === "identExpr") return kind.value?.name;
  if (kind?.case === "selectExpr") {
    const operand = qualifiedName(kind.value?.operand);
    return operand === undefined ? undefined : `${operand}.${kind.value?.field}`;
  }
  return undefined;
}

// `resource.nmae` reads a missing map key at run time; catch such typos at write time instead.
function unknownField(kind: ExprKind): string | undefined {
  if (kind.case !== "selectExpr") return undefined;
  const select = kind.value as { operand?: { exprKind?: { case?: string; value?: { name?: string } } }; field: string };
  const operand = select.operand?.exprKind;
  if (operand?.case !== "identExpr") return undefined;
  const name = operand.value?.name ?? "";
  const known = FIELDS[name];
  if (!known || known.includes(select.field)) return undefined;
  return `unknown field "${name}.${select.field}"; known: ${known.map((f) => `${name}.${f}`).join(", ")}`;
}

// A constant pattern that does not compile would make the condition unknown on every check: refuse it when written.
function invalidConstantRegex(kind: ExprKind): string | undefined {
  if (kind.case !== "callExpr") return undefined;
  const call = kind.value as { function: string; args: unknown[] };
  if (call.function !== "matches") return undefined;
  const pattern = constantString(call.args[call.args.length - 1]);
  if (pattern === undefined) return undefined;
  meter.spent = 0;
  meter.stopped = undefined;
  const result = env.funcs.find("matches")?.call(0n as never, "", [pattern]);
  return result !== undefined && isCelError(result) ? `invalid regular expression: ${result.message}` : undefined;
}

function constantString(expr: unknown): string | undefined {
  const kind = (expr as { exprKind?: { case?: string; value?: { constantKind?: { case?: string; value?: unknown } } } })
    ?.exprKind;
  const constant = kind?.case === "constExpr" ? kind.value?.constantKind : undefined;
  return constant?.case === "stringValue" ? (constant.value as string) : undefined;
}

// ---- Cost ----------------------------------------------------------------------------------------------------------

interface SyntaxNode {
  exprKind?: ExprKind;
}

/** The sub-expressions of `expr`, in the tree as cel-es parses it. */
function children(expr: SyntaxNode): SyntaxNode[] {
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

/** Whether the tree is deeper than `limit`; iterative, so that a pathological tree cannot overflow the stack here. */
function deeperThan(root: unknown, limit: number): boolean {
  const stack: [SyntaxNode, number][] = root ? [[root as SyntaxNode, 1]] : [];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > limit) return true;
    for (const child of children(node)) stack.push([child, depth + 1]);
  }
  return false;
}

interface Estimate {
  /** Work, in units of about one character or element handled. */
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
 * A worst-case estimate of an expression's cost and result size (the approach of Kubernetes' CEL cost budgets).
 * `scope` sizes the variables a comprehension binds.
 */
function estimateCost(expr: SyntaxNode, scope: ReadonlyMap<string, number> = new Map()): Estimate {
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
      const args = [call.target, ...call.args]
        .filter((a): a is SyntaxNode => a !== undefined)
        .map((a) => estimateCost(a, scope));
      const inputs = sum(args.map((a) => a.size));
      const size = EXPANDING[call.function]?.(args) ?? Math.max(1, ...args.map((a) => a.size));
      return { cost: sum(args.map((a) => a.cost)) + workOf(call.function, args, inputs, size), size };
    }
    default:
      return { cost: 1, size: 1 };
  }
}

// Operators that look at one element or stop at the first difference.
const CHEAP = new Set([...BUILT_IN_OPERATORS, "!_", "-_", "size"]);
const COMPARISONS = new Set(["_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_", "startsWith", "endsWith"]);

function workOf(name: string, args: Estimate[], inputs: number, size: number): number {
  if (CHEAP.has(name)) return 1;
  if (COMPARISONS.has(name)) return 1 + Math.min(...args.map((a) => a.size));
  // A regular expression runs in time proportional to the text times the pattern (RE2).
  if (name === "matches") return args[0]!.size * (args[args.length - 1]?.size ?? 1);
  return inputs + size;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** The state of the evaluation in progress (evaluations are synchronous: one at a time). */
const meter: { spent: number; stopped: string | undefined } = { spent: 0, stopped: undefined };

function sizeOf(value: unknown): number {
  if (typeof value === "string" || value instanceof Uint8Array) return value.length;
  if (isCelList(value) || isCelMap(value)) return value.size;
  return 1;
}

function stop(reason: string): never {
  meter.stopped ??= reason;
  throw new Error(meter.stopped);
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
      const extra = name === "join" ? sizeOf(args[0]) : sizeOf(target);
      if (!isCelList(list)) return 0;
      let total = extra;
      for (const item of list) total += sizeOf(item) + extra;
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

/** `func` charging the meter for the work it does, and refusing results over MAX_RESULT_SIZE. */
function metered(func: CelFunc): CelFunc {
  const call = (id: number, target: CelValueArg, args: CelValueArg[]): CelResult | undefined => {
    if (meter.stopped !== undefined) stop(meter.stopped);
    const before = resultBound(func.name, target, args);
    if (before > MAX_RESULT_SIZE) stop(`${func.name} would build a value of ${before} characters; at most ${MAX_RESULT_SIZE}`);
    const inputs = (target === undefined ? 0 : sizeOf(target)) + sum(args.map(sizeOf));
    const pattern = func.name === "matches" ? sizeOf(args[args.length - 1]) : 0;
    // cel-es's replace copies the whole string once per match; copies run ~100 characters per unit of other work.
    const copies = func.name === "replace" ? Math.ceil((before * replacements(target, args)) / 100) : 0;
    charge(CALL_COST + inputs + inputs * pattern + copies);
    const result = func.call(id as never, target as never, args as never);
    if (result === undefined || isCelError(result)) return result;
    const size = sizeOf(result);
    if (size > MAX_RESULT_SIZE) stop(`${func.name} built a value of ${size} characters or elements; at most ${MAX_RESULT_SIZE}`);
    charge(size);
    return result;
  };
  // Everything else (name, id, types, the private brand) comes from the original.
  return Object.create(func, { call: { value: call } }) as CelFunc;
}

// A call costs the interpreter about as much as handling 25 characters (measured: ~10 µs per comprehension step).
const CALL_COST = 25;

type CelValueArg = Parameters<CelFunc["call"]>[1];

function charge(units: number): void {
  meter.spent += units;
  if (meter.spent > EVALUATION_BUDGET) stop(`the condition exceeded its evaluation budget of ${EVALUATION_BUDGET} cost units`);
}
