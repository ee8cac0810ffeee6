import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, test } from "vitest";
import {
  CALL_BUDGET,
  CallConditions,
  ConditionBudget,
  EVALUATION_BUDGET,
  MAX_EXPRESSION_LENGTH,
  MAX_PATTERN_SIZE,
  WRITE_BUDGET,
  bracketDepth,
  compileCondition,
  type CompiledCondition,
  type ConditionInput,
} from "../../src/domain/conditions.js";
import { FORMAT_CLAUSE_COST, MATCH_COST, MATCH_STEP_SIZE, TIME_ZONE_COST } from "../../src/domain/condition-cost.js";
import { patternSize } from "../../src/domain/regex.js";

function compiled(expression: string): CompiledCondition {
  const result = compileCondition(expression);
  if (typeof result === "string") throw new Error(`expected "${expression}" to compile, got: ${result}`);
  return result;
}

function refusal(expression: string): string {
  const result = compileCondition(expression);
  if (typeof result !== "string") throw new Error(`expected "${expression}" to be refused`);
  return result;
}

function input(overrides: Partial<ConditionInput> & { at?: string; attrs?: Record<string, unknown> } = {}): ConditionInput {
  const { at = "2026-06-01T00:00:00Z", attrs = {}, ...rest } = overrides;
  return {
    requestTime: timestampFromMs(Date.parse(at)),
    attributes: new Map(Object.entries(attrs)),
    resourceName: "projects/prj_xyz789",
    resourceType: "project",
    ...rest,
  };
}

describe("valid conditions compile", () => {
  test.each([
    'request.time < timestamp("2027-01-01T00:00:00Z")',
    'request.time >= timestamp("2020-01-01T00:00:00Z") && request.time < timestamp("2027-01-01T00:00:00Z")',
    'resource.name.startsWith("projects/")',
    'resource.name.endsWith("_prod") || resource.name.contains("staging")',
    'request.attributes["ip"] == "10.0.0.1"',
    'resource.type == "project"',
    '"team" in request.attributes && request.attributes["team"] == "infra"',
    'resource.name.lowerAscii().startsWith("projects/")',
    "has(request.attributes.team)",
    'resource.name.split("/").exists(part, part == "prj_xyz789")',
    "request.time.getFullYear() >= 2026",
  ])("%s", (expression) => {
    expect(typeof compileCondition(expression)).toBe("object");
  });
});

describe("invalid conditions are refused with a reason", () => {
  test("a syntax error", () => {
    expect(refusal("request.time <")).toMatch(/^syntax error/);
  });

  test("unbalanced parentheses", () => {
    expect(refusal('(resource.type == "project"')).toMatch(/^syntax error/);
  });

  test("an unknown function names the function", () => {
    expect(refusal('isAdmin(resource.name)')).toContain("isAdmin");
  });

  test("an unknown function behind a short-circuiting && is still refused", () => {
    expect(refusal('resource.type == "project" && isAdmin(resource.name)')).toContain("isAdmin");
  });

  test("an unknown function behind a short-circuiting || is still refused", () => {
    expect(refusal('resource.type == "type" || isAdmin(resource.name)')).toContain("isAdmin");
  });

  test("an unknown method is refused", () => {
    expect(refusal('resource.name.beginsWith("projects/")')).toContain("beginsWith");
  });

  test("a misspelt field of resource names the field and the known ones", () => {
    const message = refusal('resource.nmae == "projects/p"');
    expect(message).toContain("resource.nmae");
    expect(message).toContain("resource.name");
  });

  test("a misspelt field of request names the field", () => {
    expect(refusal('request.tiem < timestamp("2027-01-01T00:00:00Z")')).toContain("request.tiem");
  });

  test("an unknown variable is refused", () => {
    expect(refusal('principal == "user:ada@example.com"')).toMatch(/type error/);
  });

  test("an argument of the wrong type is refused", () => {
    expect(refusal("resource.name.startsWith(1)")).toContain("startsWith");
  });

  test("an invalid timestamp literal is refused", () => {
    expect(refusal('request.time < timestamp("next tuesday")')).toContain("timestamp");
  });

  test.each(["1 + 2", '"yes"', "resource.name", "request.time"])("a non-bool result: %s", (expression) => {
    expect(refusal(expression)).toContain("must evaluate to a bool");
  });

  test("an empty expression", () => {
    expect(refusal("   ")).toBe("expression is empty");
  });

  test("an over-long expression", () => {
    const long = `resource.name == "${"x".repeat(MAX_EXPRESSION_LENGTH)}"`;
    expect(refusal(long)).toContain(`longer than ${MAX_EXPRESSION_LENGTH}`);
  });
});

describe("evaluate", () => {
  const until2027 = compiled('request.time < timestamp("2027-01-01T00:00:00Z")');

  test("a time condition is true before its deadline", () => {
    expect(until2027.evaluate(input({ at: "2026-12-31T23:59:59Z" }))).toBe(true);
  });

  test("a time condition is false at and after its deadline", () => {
    expect(until2027.evaluate(input({ at: "2027-01-01T00:00:00Z" }))).toBe(false);
    expect(until2027.evaluate(input({ at: "2030-01-01T00:00:00Z" }))).toBe(false);
  });

  test("resource.name is the resource's name", () => {
    const projectsOnly = compiled('resource.name.startsWith("projects/")');
    expect(projectsOnly.evaluate(input({ resourceName: "projects/prj_xyz789" }))).toBe(true);
    expect(projectsOnly.evaluate(input({ resourceName: "clouds/cld_abc123" }))).toBe(false);
  });

  test("resource.type is the resource's type", () => {
    const clouds = compiled('resource.type == "cloud"');
    expect(clouds.evaluate(input({ resourceType: "cloud" }))).toBe(true);
    expect(clouds.evaluate(input({ resourceType: "project" }))).toBe(false);
  });

  test("request.attributes are the request's attributes", () => {
    const infra = compiled('request.attributes["team"] == "infra"');
    expect(infra.evaluate(input({ attrs: { team: "infra" } }))).toBe(true);
    expect(infra.evaluate(input({ attrs: { team: "web" } }))).toBe(false);
  });

  test("a missing attribute is an evaluation error, not true", () => {
    const result = compiled('request.attributes["team"] == "infra"').evaluate(input());
    expect(result).toBeInstanceOf(Error);
  });

  test("a presence test guards a missing attribute", () => {
    const guarded = compiled('"team" in request.attributes && request.attributes["team"] == "infra"');
    expect(guarded.evaluate(input())).toBe(false);
  });

  test("a non-bool attribute used as the result is an evaluation error", () => {
    const result = compiled('request.attributes["flag"]').evaluate(input({ attrs: { flag: "yes" } }));
    expect(result).toBeInstanceOf(Error);
    expect((result as Error).message).toContain("bool");
  });

  test("conditions combine time and resource", () => {
    const condition = compiled(
      'request.time < timestamp("2027-01-01T00:00:00Z") && resource.name.startsWith("projects/")',
    );
    expect(condition.evaluate(input())).toBe(true);
    expect(condition.evaluate(input({ at: "2028-01-01T00:00:00Z" }))).toBe(false);
    expect(condition.evaluate(input({ resourceName: "clouds/cld_abc123" }))).toBe(false);
  });

  test("the same expression compiles to the same condition (cached)", () => {
    expect(compileCondition('resource.type == "cloud"')).toBe(compileCondition('resource.type == "cloud"'));
  });
});

describe("evaluation cost is bounded", () => {
  test("one comprehension over a request attribute is accepted", () => {
    expect(compiled('request.attributes["ips"].exists(ip, ip == "10.0.0.1")')).toBeDefined();
  });

  test("nested comprehensions are refused, since their cost grows as a power of the list size", () => {
    expect(refusal('request.attributes["l"].all(a, request.attributes["l"].all(b, a == b))')).toMatch(/may not be nested/);
  });
});

describe("hardening: a condition cannot freeze the server (issue 13, item 1)", () => {
  const a400 = "a".repeat(400);

  test("the n^4 replace that froze both ports for 42.8 s is refused at write time, before it runs", () => {
    const reason = refusal(`'${a400}'.replace('a','${a400}').replace('a','aa').size() > 0`);
    expect(reason).toMatch(/may build a value of \d+ characters or elements; at most 65536/);
  });

  test("a 2,000-term sum (a stack overflow in the planner) is refused as too deeply nested", () => {
    expect(refusal(`${Array(2000).fill("1").join("+")} > 0`)).toMatch(/nested more than 32 levels/);
  });

  test("2,000 nested parentheses cannot overflow the server: refused as too deeply nested before the parser runs", () => {
    // Parentheses add no depth to the tree, but the parser recurses on them: refused before it, on any thread's stack.
    expect(refusal(`${"(".repeat(2000)}true${")".repeat(2000)}`)).toMatch(/nested more than 32 levels/);
    expect(refusal(`${"[".repeat(33)}1${"]".repeat(33)} == []`)).toMatch(/nested more than 32 levels/);
  });

  test("brackets inside string literals are not nesting", () => {
    expect(bracketDepth(`request.attributes.s == "${"(".repeat(40)}" && (true)`)).toBe(1);
    expect(bracketDepth(`'\\'' + '${"[".repeat(40)}' == ''`)).toBe(0);
    expect(bracketDepth(`r'\\' + '''${"{".repeat(40)}''' == ""`)).toBe(0);
    expect(bracketDepth("((a) || [b, {c: (d)}])")).toBe(4);
    expect(compiled(`resource.name.matches('^(${"(a)".repeat(3)})+$') && ((true))`)).toBeDefined();
  });

  test("a long && chain stays shallow and compiles", () => {
    expect(compiled(Array(40).fill('resource.type == "project"').join(" && "))).toBeDefined();
  });

  test("an invalid constant regular expression is refused", () => {
    expect(refusal("resource.name.matches('(')")).toMatch(/invalid regular expression/);
  });

  test("a valid constant regular expression compiles", () => {
    expect(compiled("resource.name.matches('^projects/prj_[a-z0-9]+$')")).toBeDefined();
  });

  test("an expression estimated too expensive is refused", () => {
    expect(refusal("request.attributes.s.split('').map(x, x + x).size() > 0")).toMatch(/too expensive: estimated cost/);
  });

  test("at run time, a stored condition over a large attribute stops at its budget, before the call runs, as an error", () => {
    const condition = compiled("request.attributes.s.replace('a','aa').size() > 0");
    const budget = new ConditionBudget();
    const result = condition.evaluate(input({ attrs: { s: "a".repeat(16_000) } }), budget);
    expect((result as Error).message).toBe(`the condition exceeded its evaluation budget of ${EVALUATION_BUDGET} cost units`);
    // Charged up front: the replacement, never built, would have cost this much.
    expect(budget.spent).toBeGreaterThan(EVALUATION_BUDGET);
    expect((condition.evaluate(input({ attrs: { s: "a".repeat(100_000) } })) as Error).message).toMatch(/at most 65536/);
    expect(condition.evaluate(input({ attrs: { s: "a".repeat(100) } }))).toBe(true);
  });

  test("a value over the limit is an error even where || would have ignored it", () => {
    const condition = compiled("request.attributes.s.replace('a','aa').size() > 0 || true");
    expect(condition.evaluate(input({ attrs: { s: "a" } }))).toBe(true);
    // CEL's || absorbs an error on one side when the other is true; a side stopped by a limit still makes it unknown.
    expect(condition.evaluate(input({ attrs: { s: "a".repeat(40_000) } }))).toBeInstanceOf(Error);
  });
});

describe("regular expressions: RE2, charged by what they run (issue 25, item 1)", () => {
  const ISSUE_PATTERN = "(a|aa|aaa|aaaa){1000}";

  test("the issue's pattern is refused when written, with its size (RE2 expands the repetition)", () => {
    const reason = refusal(`request.attributes.s.matches('${ISSUE_PATTERN}')`);
    expect(reason).toContain(`invalid regular expression "${ISSUE_PATTERN}"`);
    expect(reason).toContain(`size ${patternSize(ISSUE_PATTERN)}, at most ${MAX_PATTERN_SIZE}`);
  });

  test.each(["(a)\\1", "(?=a)", "(?<!a)b"])("RE2's invalid syntax %s is refused when written", (pattern) => {
    expect(refusal(`resource.name.matches('${pattern}')`)).toMatch(/^invalid regular expression/);
  });

  test("the function form matches(text, pattern) is RE2's too", () => {
    const condition = compiled("matches(resource.name, '^projects/prj_\\\\w+\\\\z')");
    expect(condition.evaluate(input())).toBe(true);
    expect(condition.evaluate(input({ resourceName: "projects/prj_x/y" }))).toBe(false);
  });

  test("a pattern computed at run time that RE2 refuses is an evaluation error, not false", () => {
    const condition = compiled("'projects/prj_xyz789'.matches(request.attributes.p)");
    const result = condition.evaluate(input({ attrs: { p: "(a)\\1" } }));
    expect(result).toBeInstanceOf(Error);
    expect((result as Error).message).toContain("invalid escape sequence");
    expect(condition.evaluate(input({ attrs: { p: ISSUE_PATTERN } }))).toBeInstanceOf(Error);
    expect(condition.evaluate(input({ attrs: { p: "^projects/" } }))).toBe(true);
  });

  test("a match is charged the text's length times the pattern's size, before it runs", () => {
    const pattern = "^(a|aa|aaa|aaaa){45}$";
    const condition = compiled(`request.attributes.s.matches('${pattern}')`);
    const spent = (n: number) => {
      const budget = new ConditionBudget();
      expect(condition.evaluate(input({ attrs: { s: "a".repeat(n) } }), budget)).toBe(n >= 45 && n <= 180);
      return budget.spent;
    };
    // Each character more costs its own unit (the call reads it) and one match step per unit of the pattern's size.
    expect(spent(100) - spent(50)).toBe(50 * (1 + MATCH_COST * (patternSize(pattern) + MATCH_STEP_SIZE)));
  });

  test("a pathological pattern over a long text is stopped by its budget before the match runs", () => {
    const condition = compiled("request.attributes.s.matches('^(a|aa|aaa|aaaa){45}$')");
    const budget = new ConditionBudget();
    const result = condition.evaluate(input({ attrs: { s: "a".repeat(16_000) } }), budget);
    expect(result).toBeInstanceOf(Error);
    expect((result as Error).message).toBe(`the condition exceeded its evaluation budget of ${EVALUATION_BUDGET} cost units`);
    expect(budget.spent).toBeGreaterThanOrEqual(16_000 * MATCH_COST * patternSize("^(a|aa|aaa|aaaa){45}$"));
  });
});

describe("every function is charged for the work it does (issue 25, item 1)", () => {
  const list = (n: number) => Array.from({ length: n }, () => true);

  function outcome(expression: string, attrs: Record<string, unknown> = {}): { result: boolean | Error; spent: number } {
    const budget = new ConditionBudget();
    const result = compiled(expression).evaluate(input({ attrs }), budget);
    return { result, spent: budget.spent };
  }

  test("a comprehension is charged per element, even when its body calls nothing", () => {
    const expression = Array(40).fill("request.attributes.l.all(x, true)").join(" && ");
    expect(outcome(expression, { l: list(10) }).result).toBe(true);
    const { result, spent } = outcome(expression, { l: list(16_000) });
    expect(result).toBeInstanceOf(Error);
    expect(spent).toBeGreaterThan(EVALUATION_BUDGET);
  });

  test("equality walks nested values: a list literal holding one list many times is charged for all of it", () => {
    const eight = `[${Array(8).fill("request.attributes.l").join(", ")}]`;
    const expression = `[${eight}, ${eight}] == [${eight}, ${eight}]`;
    expect(outcome(expression, { l: list(10) }).result).toBe(true);
    expect(outcome(expression, { l: list(2_000) }).result).toBeInstanceOf(Error);
  });

  test("a format clause is charged what building its number format costs", () => {
    const expression = `[${Array(300).fill("0.5").join(",")}].all(x, '%.3f'.format([x]) != '')`;
    const { result, spent } = outcome(expression);
    expect(result).toBeInstanceOf(Error);
    expect(spent).toBeGreaterThan(Math.floor(EVALUATION_BUDGET / FORMAT_CLAUSE_COST) * FORMAT_CLAUSE_COST);
  });

  test("a time zone is charged what building its date format costs", () => {
    const expression = `[${Array(100).fill("0").join(",")}].all(x, request.time.getHours('Europe/Paris') >= x)`;
    const { result, spent } = outcome(expression);
    expect(result).toBeInstanceOf(Error);
    expect(spent).toBeGreaterThan(Math.floor(EVALUATION_BUDGET / TIME_ZONE_COST) * TIME_ZONE_COST);
  });
});

describe("a call's conditions share one budget; a write's conditions another (issue 25, item 1)", () => {
  const heavy = compiled("request.attributes.l.all(x, x)");
  const cheap = compiled('resource.type == "project"');
  const l = Array.from({ length: 3_000 }, () => true);

  test("an access check evaluates each condition once, and stops evaluating past its budget", () => {
    const conditions = new CallConditions(input({ attrs: { l } }));
    expect(conditions.evaluate(heavy)).toBe(true);
    const once = conditions.budget.spent;
    expect(conditions.evaluate(heavy)).toBe(true);
    expect(conditions.budget.spent).toBe(once);
    // Other conditions spend what is left, then fail: the binding does not apply.
    const others = Array.from({ length: 10 }, (_, i) => compiled(`request.attributes.l.all(x, x) && ${i} >= 0`));
    const results = others.map((c) => conditions.evaluate(c));
    expect(results).toContain(true);
    const failed = results.find((r): r is Error => r instanceof Error);
    expect(failed?.message).toBe(`the conditions of this call exceeded their budget of ${CALL_BUDGET} cost units`);
    expect(conditions.budget.spent).toBeGreaterThan(CALL_BUDGET);
    expect(conditions.evaluate(cheap)).toBeInstanceOf(Error);
  });

  test("a write's conditions are charged what compiling them costs, the same whether or not they were compiled before", () => {
    const expression = "resource.name.matches('(a|aa|aaa|aaaa){80}')";
    const first = new ConditionBudget(WRITE_BUDGET);
    compileCondition(expression, first);
    const again = new ConditionBudget(WRITE_BUDGET);
    compileCondition(expression, again);
    expect(again.spent).toBe(first.spent);
    expect(first.spent).toBeGreaterThan(patternSize("(a|aa|aaa|aaaa){80}"));
  });

  test("past a write's budget, further conditions are refused without being compiled", () => {
    const budget = new ConditionBudget(WRITE_BUDGET);
    const results = Array.from({ length: 8 }, (_, i) => compileCondition(`'aa'.matches('(a|aa|aaa|aaaa){250}|z${i}')`, budget));
    expect(typeof results[0]).toBe("object");
    const refused = results.filter((r): r is string => typeof r === "string");
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]).toBe(`the conditions of this write cost more than ${WRITE_BUDGET} units to check together; simplify them or spread them over several policies`);
  });
});
