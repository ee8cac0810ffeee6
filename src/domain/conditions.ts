// IAM conditions: CEL expressions over `request.time`, `request.attributes`, `resource.name` and `resource.type`,
// compiled once (cached by expression text) and evaluated against a request. Every condition's cost is bounded twice
// (docs/security.md, "Limits"): estimated when it is written, metered while it runs.
import { celEnv, celFunc, celMethod, isCelError, mapType, parse, plan, CelScalar, type CelResult } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { quoted } from "../service-error.js";
import {
  BUILT_IN_OPERATORS,
  COMPILE_BASE_COST,
  COMPILE_COST,
  MAX_RESULT_SIZE,
  NODE_COST,
  charge,
  chargeIterations,
  children,
  compiledWithCondition,
  constantString,
  estimateCost,
  iterate,
  meterReading,
  metered,
  nodeCount,
  startMeter,
  type SyntaxNode,
} from "./condition-cost.js";
import { MAX_PATTERN_SIZE, compileRegex, patternSize, type Regex } from "./regex.js";
import { nextTurn } from "./turns.js";
import { childSpan } from "../tracing/spans.js";

export { ESTIMATED_VARIABLE_SIZE, MAX_RESULT_SIZE } from "./condition-cost.js";
export { MAX_PATTERN_SIZE } from "./regex.js";

export const MAX_EXPRESSION_LENGTH = 4096;
/** Depth of the expression tree: the planner recurses once per level (a 2,000-term sum overflowed its stack). */
export const MAX_NESTING_DEPTH = 32;
/** Cost units (condition-cost.ts: about 0.1 µs each) a condition may be estimated to need at write time. */
export const MAX_ESTIMATED_COST = 1_000_000;
/** Cost units one evaluation may spend (~10 ms); past it the evaluation stops with an error (the unknown state). */
export const EVALUATION_BUDGET = 100_000;
/** Cost units the conditions evaluated for one access check (or one authorization) may spend together. */
export const CALL_BUDGET = 100_000;
/** Cost units the conditions evaluated for one reverse lookup (many resources' checks) may spend together. */
export const LOOKUP_BUDGET = 1_000_000;
/** Cost units compiling the conditions of one write (a policy, a deny policy, a shared policy) may take together. */
export const WRITE_BUDGET = 1_000_000;
/** Reading a condition's text when it is compiled (parse, plan, static checks), per character. */
const COMPILE_CHAR_COST = 40;

/**
 * The conditions evaluated for one call: together they spend at most `limit` units; past it, every further evaluation
 * is an error (the binding does not apply, a deny rule's outcome is unknown).
 */
export class ConditionBudget {
  spent = 0;
  constructor(readonly limit = CALL_BUDGET) {}
}

/**
 * The conditions of one call, evaluated against one input (an access check reads the same request for every binding
 * and permission): each evaluated once, all of them within one budget.
 */
export class CallConditions {
  private readonly results = new Map<CompiledCondition, boolean | Error>();

  constructor(
    private readonly input: ConditionInput,
    readonly budget = new ConditionBudget(),
  ) {}

  evaluate(condition: CompiledCondition): boolean | Error {
    let result = this.results.get(condition);
    if (result === undefined) {
      result = condition.evaluate(this.input, this.budget);
      this.results.set(condition, result);
    }
    return result;
  }
}

/** What a condition can read. */
export interface ConditionInput {
  requestTime: Timestamp;
  attributes: ReadonlyMap<string, unknown>;
  resourceName: string;
  resourceType: string;
}

export interface CompiledCondition {
  /**
   * true or false, or the evaluation error (the binding then does not apply). What it spends is added to `budget`,
   * and it may spend no more than the budget has left.
   */
  evaluate(input: ConditionInput, budget?: ConditionBudget): boolean | Error;
}

const FIELDS: Record<string, readonly string[]> = {
  request: ["time", "attributes"],
  resource: ["name", "type"],
};

/** RE2's search (CEL's `matches`), as a method and as a function; an invalid pattern is the call's error. */
function matches(text: string, pattern: string): boolean {
  const regex = compiledWithCondition(pattern) ?? compileRegex(pattern);
  if (typeof regex === "string") throw new Error(`invalid regular expression ${quoted(pattern)}: ${regex}`);
  return regex.test(text);
}

const RE2_MATCHES = [
  celMethod("matches", CelScalar.STRING, [CelScalar.STRING], CelScalar.BOOL, function (pattern) {
    return matches(this, pattern);
  }),
  celFunc("matches", [CelScalar.STRING, CelScalar.STRING], CelScalar.BOOL, matches),
];

const env = celEnv({
  // Every function metered: cel-es has no cost tracking of its own (0.6), and an evaluation cannot be interrupted.
  // `matches` replaces cel-es's own (same overload id), which compiles its pattern at every call.
  funcs: [...[...celEnv({ funcs: strings }).funcs, ...RE2_MATCHES].map(metered), iterate],
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

interface Compiled {
  result: CompiledCondition | string;
  /** Cost units compiling it took, as if compiled anew: its text, its constant patterns, its trial run. */
  cost: number;
  /** What it holds, in characters of text (a compiled condition holds ~45 bytes per character). */
  weight: number;
}

/** Compiled conditions by expression, oldest first: at most CACHE_LIMIT, and CACHE_WEIGHT in all. */
const cache = new Map<string, Compiled>();
const CACHE_LIMIT = 10_000;
/** A compiled condition holds ~45 bytes per character of its text (measured): ~90 MB at most. */
const CACHE_WEIGHT = 2_000_000;
/** Weight of a unit of a compiled pattern's size (~256 bytes). */
const PATTERN_WEIGHT = 6;
let cachedWeight = 0;

/**
 * The compiled condition, or a description of why the expression is not a valid condition. With `budget` (a write's:
 * WRITE_BUDGET), what compiling it costs — the same whether or not it was cached — is charged to it, and past its limit
 * the expression is refused; once the budget is spent, without being compiled.
 */
export function compileCondition(expression: string, budget?: ConditionBudget): CompiledCondition | string {
  if (budget && budget.spent > budget.limit) return overWriteBudget(budget);
  let compiled = cache.get(expression);
  if (compiled === undefined) {
    compiled = compile(expression);
    cache.set(expression, compiled);
    cachedWeight += compiled.weight;
    for (const [old, entry] of cache) {
      if (cache.size <= CACHE_LIMIT && cachedWeight <= CACHE_WEIGHT) break;
      cache.delete(old);
      cachedWeight -= entry.weight;
    }
  }
  if (!budget) return compiled.result;
  budget.spent += compiled.cost;
  return budget.spent > budget.limit ? overWriteBudget(budget) : compiled.result;
}

/**
 * Compiles a write's conditions ahead of its (synchronous) validation, one per turn of the event loop, within the
 * write's budget: other callers wait for one condition's compile at most, never for a whole policy's. Validation then
 * finds them compiled (and charges them to the write all the same).
 */
export async function compileInTurns(expressions: Iterable<string | undefined>): Promise<void> {
  const budget = new ConditionBudget(WRITE_BUDGET);
  for (const expression of expressions) {
    if (expression === undefined || cache.has(expression)) continue;
    if (budget.spent > budget.limit) return;
    await nextTurn();
    compileCondition(expression, budget);
  }
}

function overWriteBudget(budget: ConditionBudget): string {
  return `the conditions of this write cost more than ${budget.limit} units to check together; simplify them or spread them over several policies`;
}

function compile(expression: string): Compiled {
  // Reading the text (parsing, planning, the static checks) is linear in it.
  let cost = COMPILE_CHAR_COST * expression.length;
  let weight = expression.length;
  const refuse = (reason: string): Compiled => ({ result: reason, cost, weight: expression.length });
  if (expression.trim() === "") return refuse("expression is empty");
  if (expression.length > MAX_EXPRESSION_LENGTH) return refuse(`expression is longer than ${MAX_EXPRESSION_LENGTH} characters`);
  // Before the parser, whose recursion would otherwise decide by the thread's stack size whether this is refused.
  if (bracketDepth(expression) > MAX_NESTING_DEPTH) return refuse(`expression is nested more than ${MAX_NESTING_DEPTH} levels deep`);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(expression);
  } catch (e) {
    // The parser recurses too: a deep enough nesting overflows its stack before the depth check below can run.
    if (e instanceof RangeError) return refuse(`expression is nested more than ${MAX_NESTING_DEPTH} levels deep`);
    return refuse(`syntax error: ${(e as Error).message}`);
  }
  if (deeperThan(parsed.expr, MAX_NESTING_DEPTH)) {
    return refuse(`expression is nested more than ${MAX_NESTING_DEPTH} levels deep; split it or use && and || (which stay shallow)`);
  }
  const problem = findProblem(parsed.expr);
  if (problem) return refuse(problem);
  const estimate = estimateCost(parsed.expr);
  if (estimate.size > MAX_RESULT_SIZE) {
    return refuse(`expression may build a value of ${estimate.size} characters or elements; at most ${MAX_RESULT_SIZE}`);
  }
  if (estimate.cost > MAX_ESTIMATED_COST) {
    return refuse(`expression is too expensive: estimated cost ${estimate.cost}, at most ${MAX_ESTIMATED_COST}`);
  }
  // Compiled only now: the estimate has bounded the patterns' sizes, and so the work of compiling them. The condition
  // keeps them (an evaluation does not compile them again, nor is charged for it).
  const patterns = new Map<string, Regex>();
  for (const pattern of constantPatterns(parsed.expr)) {
    cost += COMPILE_BASE_COST + COMPILE_COST * patternSize(pattern);
    const regex = compileRegex(pattern);
    if (typeof regex === "string") return refuse(`invalid regular expression ${quoted(pattern)}: ${regex}`);
    patterns.set(pattern, regex);
    weight += PATTERN_WEIGHT * regex.size;
  }
  // Every evaluation reads its whole tree once (at least: comprehensions charge for their elements as they start).
  const base = NODE_COST * nodeCount(parsed.expr);
  chargeIterations(parsed.expr);
  const run = plan(env, parsed);
  const evaluate = (input: ConditionInput, budget?: ConditionBudget): boolean | Error => {
    const left = budget ? budget.limit - budget.spent : EVALUATION_BUDGET;
    const perCall = budget !== undefined && left < EVALUATION_BUDGET;
    startMeter(
      Math.min(left, EVALUATION_BUDGET),
      perCall
        ? `the conditions of this call exceeded their budget of ${budget.limit} cost units`
        : `the condition exceeded its evaluation budget of ${EVALUATION_BUDGET} cost units`,
      patterns,
    );
    let result: CelResult | undefined;
    try {
      charge(base);
      result = run(bindings(input));
    } catch {
      // Stopped by the meter before it started: the reading says why.
    }
    const { spent, stopped } = meterReading();
    if (budget) budget.spent += spent;
    // A call over a limit throws, which cel-es makes the expression's error; `<over a limit> || true` must not win.
    return stopped !== undefined || result === undefined ? new Error(stopped) : toBoolean(result);
  };
  // A trial run on sample input finds type errors (cel-es has no public checker); data-dependent errors are fine.
  const trialBudget = new ConditionBudget(EVALUATION_BUDGET);
  const trial = evaluate(SAMPLE, trialBudget);
  cost += trialBudget.spent;
  if (trial instanceof Error) {
    if (STATIC_ERRORS.some((s) => trial.message.includes(s))) return refuse(`type error: ${trial.message}`);
    if (trial.message.includes("must evaluate to a bool")) return refuse(trial.message);
  }
  return { result: { evaluate: traced(evaluate) }, cost, weight };
}

/**
 * An evaluation that, in a traced call, is a span with its outcome and the cost units it spent (never the expression
 * or its input: they may name members). tracing/spans.ts takes the tracer from the call's context: the domain needs
 * no tracer handed down, and without a traced call this is one context lookup.
 */
function traced(evaluate: CompiledCondition["evaluate"]): CompiledCondition["evaluate"] {
  return (input, budget) => {
    const span = childSpan("condition evaluate");
    if (!span) return evaluate(input, budget);
    const before = budget?.spent ?? 0;
    const result = evaluate(input, budget);
    span.setAttribute("policy.condition.result", result instanceof Error ? "error" : String(result));
    if (budget) span.setAttribute("policy.condition.cost", budget.spent - before);
    span.end();
    return result;
  };
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

/** Comprehensions (`all`, `exists`, `map`, ...) may not nest: a nested one costs |list|^depth per evaluation. */
export const MAX_COMPREHENSION_DEPTH = 1;

type ExprKind = { case?: string; value?: unknown };

/** The first problem a static check finds in the expression tree, or undefined. */
function findProblem(expr: unknown, comprehensionDepth = 0): string | undefined {
  if (expr === null || typeof expr !== "object") return undefined;
  const kind = (expr as { exprKind?: ExprKind }).exprKind;
  let depth = comprehensionDepth;
  if (kind?.case !== undefined) {
    const problem = unknownField(kind) ?? unknownFunction(kind) ?? oversizedPattern(kind);
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

// A constant pattern over MAX_PATTERN_SIZE is named as such, before the cost estimate (which it would exceed too).
function oversizedPattern(kind: ExprKind): string | undefined {
  if (kind.case !== "callExpr") return undefined;
  const call = kind.value as { function: string; args: SyntaxNode[] };
  const pattern = call.function === "matches" ? constantString(call.args[call.args.length - 1]) : undefined;
  if (pattern === undefined || patternSize(pattern) <= MAX_PATTERN_SIZE) return undefined;
  return `invalid regular expression ${quoted(pattern)}: ${compileRegex(pattern) as string}`;
}

/**
 * The constant patterns of `matches` calls. One that does not compile would make the condition unknown on every check:
 * it is refused when written.
 */
function constantPatterns(root: SyntaxNode): Set<string> {
  const patterns = new Set<string>();
  const pending = [root];
  while (pending.length > 0) {
    const node = pending.pop()!;
    pending.push(...children(node));
    if (node.exprKind?.case !== "callExpr") continue;
    const call = node.exprKind.value as { function: string; args: SyntaxNode[] };
    const pattern = call.function === "matches" ? constantString(call.args[call.args.length - 1]) : undefined;
    if (pattern !== undefined) patterns.add(pattern);
  }
  return patterns;
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

/** The deepest nesting of (), [] and {} in a CEL expression, outside its string literals (quoted, triple-quoted, raw). */
export function bracketDepth(expression: string): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i]!;
    if (c === "'" || c === '"') {
      const raw = i > 0 && (expression[i - 1] === "r" || expression[i - 1] === "R");
      const quote = expression.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
      let j = i + quote.length;
      while (j < expression.length && !expression.startsWith(quote, j)) j += !raw && expression[j] === "\\" ? 2 : 1;
      i = j + quote.length - 1;
    } else if (c === "(" || c === "[" || c === "{") deepest = Math.max(deepest, ++depth);
    else if (c === ")" || c === "]" || c === "}") depth--;
  }
  return deepest;
}
