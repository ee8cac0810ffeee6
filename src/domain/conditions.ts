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
  const unknownField = findUnknownField(parsed.expr);
  if (unknownField) return unknownField;
  const unknownFunction = findUnknownFunction(parsed.expr);
  if (unknownFunction) return unknownFunction;
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

// The trial run cannot see a call it short-circuits past (`resource.type == "x" && isAdmin()`); find those here.
function findUnknownFunction(expr: unknown): string | undefined {
  if (expr === null || typeof expr !== "object") return undefined;
  const node = expr as { exprKind?: { case?: string; value?: unknown } };
  if (node.exprKind?.case === "callExpr") {
    const call = node.exprKind.value as { function: string; target?: unknown };
    const qualified = qualifiedName(call.target);
    const known =
      BUILT_IN_OPERATORS.has(call.function) ||
      env.funcs.find(call.function) !== undefined ||
      (qualified !== undefined && env.funcs.find(`${qualified}.${call.function}`) !== undefined);
    if (!known) return `type error: unknown function "${call.function}"`;
  }
  for (const value of Object.values(expr)) {
    const children = Array.isArray(value) ? value : [value];
    for (const child of children) {
      const found = findUnknownFunction(child);
      if (found) return found;
    }
  }
  return undefined;
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
function findUnknownField(expr: unknown): string | undefined {
  if (expr === null || typeof expr !== "object") return undefined;
  const node = expr as { exprKind?: { case?: string; value?: unknown } };
  if (node.exprKind?.case === "selectExpr") {
    const select = node.exprKind.value as { operand?: { exprKind?: { case?: string; value?: { name?: string } } }; field: string };
    const operand = select.operand?.exprKind;
    if (operand?.case === "identExpr") {
      const known = FIELDS[operand.value?.name ?? ""];
      if (known && !known.includes(select.field)) {
        return `unknown field "${operand.value!.name}.${select.field}"; known: ${known.map((f) => `${operand.value!.name}.${f}`).join(", ")}`;
      }
    }
  }
  for (const value of Object.values(expr)) {
    const children = Array.isArray(value) ? value : [value];
    for (const child of children) {
      const found = findUnknownField(child);
      if (found) return found;
    }
  }
  return undefined;
}
