// The static checks of a condition when it is written (domain/conditions.ts): the bracket depth outside string
// literals of every kind, the bounds at their limits, namespaced functions, unknown fields' messages, and which string
// constants are compiled as patterns (only `matches`').
import { expect, test } from "vitest";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  ConditionBudget,
  MAX_EXPRESSION_LENGTH,
  MAX_NESTING_DEPTH,
  MAX_PATTERN_SIZE,
  WRITE_BUDGET,
  bracketDepth,
  compileCondition,
} from "../../src/domain/conditions.js";
import { patternSize } from "../../src/domain/regex.js";

const accepted = (expression: string) => expect(compileCondition(expression), expression).not.toBeTypeOf("string");
const refusedWith = (expression: string) => {
  const result = compileCondition(expression);
  expect(result, expression).toBeTypeOf("string");
  return result as string;
};

test("bracket depth: closers of each kind close, literals of each kind hide their brackets", () => {
  expect(bracketDepth("[[1]] + [[2]]")).toBe(2);
  expect(bracketDepth("{1: {2: 3}} == {4: {5: 6}}")).toBe(2);
  expect(bracketDepth("(a) + (b) + ((c))")).toBe(2);
  // A quote at the very start; an escaped quote inside a string; a raw string (R too), where a backslash is plain.
  expect(bracketDepth('"(((" == ((x))')).toBe(2);
  expect(bracketDepth('"a\\"(((" == (x)')).toBe(1);
  expect(bracketDepth('R"\\" + ((x))')).toBe(2);
  expect(bracketDepth('r"\\" + ((x))')).toBe(2);
  // A triple-quoted string holds single quotes of its kind.
  expect(bracketDepth('"""a"b((("""  + (x)')).toBe(1);
  // An escaped quote does not end a string.
  expect(bracketDepth('x + "\\"" + (y)')).toBe(1);
  // An unterminated string hides what follows.
  expect(bracketDepth('(x) + "(((')).toBe(1);
});

test(`an expression of ${MAX_EXPRESSION_LENGTH} characters is read, one more is refused; brackets ${MAX_NESTING_DEPTH} deep too`, () => {
  const padded = (length: number) => `resource.name == "${"a".repeat(length - 'resource.name == ""'.length)}"`;
  accepted(padded(MAX_EXPRESSION_LENGTH));
  expect(refusedWith(padded(MAX_EXPRESSION_LENGTH + 1))).toBe(`expression is longer than ${MAX_EXPRESSION_LENGTH} characters`);
  const nested = (depth: number) => `${"(".repeat(depth)}true${")".repeat(depth)}`;
  accepted(nested(MAX_NESTING_DEPTH - 1));
  accepted(nested(MAX_NESTING_DEPTH));
  expect(refusedWith(nested(MAX_NESTING_DEPTH + 1))).toBe(`expression is nested more than ${MAX_NESTING_DEPTH} levels deep`);
});

test("a namespaced function of the environment is known; an unknown one, namespaced or a method, is a type error", () => {
  accepted('strings.quote(resource.name) != ""');
  accepted('resource.name.startsWith("projects/")');
  expect(refusedWith('foo.bar(resource.name)')).toBe('type error: unknown function "bar"');
  expect(refusedWith('strings.nope(resource.name)')).toBe('type error: unknown function "nope"');
  expect(refusedWith('resource.type == "x" && resource.name.nope()')).toBe('type error: unknown function "nope"');
});

test("an unknown field names the known ones", () => {
  expect(refusedWith('resource.nmae == "projects/p"')).toBe('unknown field "resource.nmae"; known: resource.name, resource.type');
  expect(refusedWith('request.tim < timestamp("2030-01-01T00:00:00Z")')).toBe('unknown field "request.tim"; known: request.time, request.attributes');
});

test("only the patterns of matches are compiled as regular expressions: other string constants may be anything", () => {
  accepted('resource.name.startsWith("(") || resource.name.endsWith("[")');
  accepted(`resource.name == "${"(".repeat(3_000)}"`);
  expect(refusedWith('resource.name.matches("(")')).toMatch(/^invalid regular expression "\("/);
});

test(`a tree exactly ${MAX_NESTING_DEPTH} levels deep is accepted, one level more is refused`, () => {
  // `1 + 1 + … > 0` with n terms is n levels deep: n - 1 additions and the comparison above a leaf.
  const sum = (terms: number) => `${Array.from({ length: terms }, () => "1").join(" + ")} > 0`;
  accepted(sum(MAX_NESTING_DEPTH - 1));
  expect(refusedWith(sum(MAX_NESTING_DEPTH))).toBe(
    `expression is nested more than ${MAX_NESTING_DEPTH} levels deep; split it or use && and || (which stay shallow)`,
  );
});

test("a closing bracket right after a string literal closes: many calls on literals are not nesting", () => {
  const prefixes = Array.from({ length: MAX_NESTING_DEPTH + 8 }, (_, i) => `resource.name.startsWith('projects/p${i}')`);
  expect(bracketDepth(prefixes.join(" || "))).toBe(1);
  accepted(prefixes.join(" || "));
});

test(`a pattern of exactly ${MAX_PATTERN_SIZE} is accepted, one more is refused with its size`, () => {
  const pattern = (last: number) => `a{1000}a{1000}a{1000}a{1000}a{${last}}`;
  expect(patternSize(pattern(998))).toBe(MAX_PATTERN_SIZE);
  accepted(`'a'.matches('${pattern(998)}')`);
  expect(refusedWith(`'a'.matches('${pattern(999)}')`)).toContain(`size ${MAX_PATTERN_SIZE + 1}, at most ${MAX_PATTERN_SIZE}`);
});

test("a write is refused as soon as its conditions' cost passes the write budget, by the condition that passes it", () => {
  const expression = (i: number) => `'aa'.matches('(a|aa|aaa|aaaa){250}|z${i}')`;
  const one = new ConditionBudget(WRITE_BUDGET);
  compileCondition(expression(0), one);
  // The last one fits only in part: it is refused itself (not only the conditions after it).
  const fitting = Math.floor(WRITE_BUDGET / one.spent);
  const budget = new ConditionBudget(WRITE_BUDGET);
  const results = Array.from({ length: fitting + 1 }, (_, i) => compileCondition(expression(i), budget));
  expect(results.slice(0, fitting).every((r) => typeof r === "object")).toBe(true);
  expect(results[fitting]).toBe(
    `the conditions of this write cost more than ${WRITE_BUDGET} units to check together; simplify them or spread them over several policies`,
  );
});

test("a write is charged at least what running its condition once costs (its trial run counts)", () => {
  // Cheap to read, costly to run whatever the input: a long literal text matched against a pattern.
  const expression = `'${"a".repeat(200)}'.matches('(a|aa){30}')`;
  const write = new ConditionBudget(WRITE_BUDGET);
  const condition = compileCondition(expression, write);
  if (typeof condition === "string") throw new Error(condition);
  const call = new ConditionBudget();
  const input = { requestTime: timestampFromMs(0), attributes: new Map(), resourceName: "projects/p", resourceType: "project" };
  expect(condition.evaluate(input, call)).toBe(true);
  expect(write.spent).toBeGreaterThanOrEqual(call.spent);
});
