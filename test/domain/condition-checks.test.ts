// The static checks of a condition when it is written (domain/conditions.ts): the bracket depth outside string
// literals of every kind, the bounds at their limits, namespaced functions, unknown fields' messages, and which string
// constants are compiled as patterns (only `matches`').
import { expect, test } from "vitest";
import { MAX_EXPRESSION_LENGTH, MAX_NESTING_DEPTH, bracketDepth, compileCondition } from "../../src/domain/conditions.js";

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
