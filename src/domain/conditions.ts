// IAM conditions: CEL expressions over `request.time`, `request.attributes`, `resource.name` and `resource.type`,
// compiled once (cached by expression text) and evaluated against a request.
import { celEnv, isCelError, mapType, parse, plan, CelScalar, type CelResult } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";

export const MAX_EXPRESSION_LENGTH = 4096;

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
  funcs: strings,
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
    return `syntax error: ${(e as Error).message}`;
  }
  const problem = findProblem(parsed.expr);
  if (problem) return problem;
  const run = plan(env, parsed);
  const evaluate = (input: ConditionInput): boolean | Error => toBoolean(run(bindings(input)));
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
    const problem = unknownField(kind) ?? unknownFunction(kind);
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
