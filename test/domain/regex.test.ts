// The regular expressions of conditions: RE2's syntax and semantics, and a size known from the text before compiling
// that bounds the compiled program (what a match is charged by).
import fc from "fast-check";
import { RE2JS } from "re2js";
import { describe, expect, test } from "vitest";
import { MAX_PATTERN_SIZE, compileRegex, patternSize, type Regex } from "../../src/domain/regex.js";

function regex(pattern: string): Regex {
  const compiled = compileRegex(pattern);
  if (typeof compiled === "string") throw new Error(`expected ${pattern} to compile, got: ${compiled}`);
  return compiled;
}

describe("RE2 semantics (CEL's matches is RE2's partial match)", () => {
  test.each([
    // Where JavaScript's RegExp reads the same text otherwise.
    ["c\\z", "abc", true], // \z: end of text (JS: a literal z)
    ["c\\z", "abcz", false],
    ["^\\pL+$", "héllo", true], // \pL: a Unicode letter (JS without the u flag: the letters pL)
    ["^[[:alpha:]]+$", "abc", true], // POSIX classes
    ["^\\Qa.b\\E$", "a.b", true], // \Q...\E quotes
    ["^\\Qa.b\\E$", "axb", false],
    ["^.$", "\r", true], // . is anything but \n (JS: not \r either)
    ["(?i)ABC", "xabcx", true], // inline flags
    ["(?s)a.b", "a\nb", true],
    ["a.b", "a\nb", false],
    ["^(?P<x>a)b$", "ab", true],
    // A search, not a whole-string match.
    ["b", "abc", true],
    ["^b", "abc", false],
  ])("%s on %j: %s", (pattern, text, expected) => {
    expect(regex(pattern).test(text)).toBe(expected);
  });

  test("counted repetitions over alternatives match in one pass", () => {
    // 45 pieces of 1 to 4 a's: 45 to 180 a's.
    const pattern = regex("^(a|aa|aaa|aaaa){45}$");
    expect(pattern.test("a".repeat(180))).toBe(true);
    expect(pattern.test("a".repeat(181))).toBe(false);
    expect(pattern.test("a".repeat(44))).toBe(false);
  });

  test.each([
    ["(a)\\1", "invalid escape sequence"], // backreference
    ["(?=a)b", "invalid or unsupported Perl syntax"], // lookahead
    ["(?!a)b", "invalid or unsupported Perl syntax"],
    ["(?<=a)b", "invalid named capture"], // lookbehind
    ["a{1001}", "invalid repeat count"],
    ["a**", "invalid nested repetition operator"],
    ["(", "missing closing )"],
  ])("RE2 refuses %s", (pattern, reason) => {
    expect(compileRegex(pattern)).toContain(reason);
  });
});

describe("a pattern's size", () => {
  test("counts a repetition n times what it repeats", () => {
    expect(patternSize("(a|aa|aaa|aaaa){1000}")).toBeGreaterThan(MAX_PATTERN_SIZE);
    expect(patternSize("(a|aa|aaa|aaaa){10}")).toBe(10 * patternSize("(a|aa|aaa|aaaa)") - 9 * 2);
  });

  test("a pattern over the limit is refused before it is compiled, with its size", () => {
    expect(compileRegex("(a|aa|aaa|aaaa){1000}")).toBe(
      `regular expression is too large: size ${patternSize("(a|aa|aaa|aaaa){1000}")}, at most ${MAX_PATTERN_SIZE} (x{n} counts n times x)`,
    );
  });

  // Patterns built from RE2's constructs, nested.
  const patterns = fc.letrec<{ pattern: string }>((tie) => ({
    pattern: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constantFrom("a", "b", ".", "^", "$", "\\d", "\\pL", "\\p{Greek}", "[a-c]", "[^x]", "[[:digit:]]", "\\x41", "\\x{263a}", "\\Qa.b\\E", "(?i)", "é", "😀", "\\b", "\\z", "{", "a{,2}"),
      fc.tuple(tie("pattern"), tie("pattern")).map(([a, b]) => `${a}${b}`),
      fc.tuple(tie("pattern"), tie("pattern")).map(([a, b]) => `${a}|${b}`),
      fc.tuple(tie("pattern"), fc.constantFrom("(", "(?:", "(?P<n>", "(?s:")).map(([a, open]) => `${open}${a})`),
      fc.tuple(tie("pattern"), fc.constantFrom("*", "+", "?", "*?", "{3}", "{0}", "{2,}", "{1,4}", "{0,5}?")).map(([a, op]) => `(?:${a})${op}`),
    ),
  })).pattern;

  test("is at least the number of instructions RE2 compiles the pattern to", () => {
    fc.assert(
      fc.property(patterns, (pattern) => {
        let instructions: number;
        try {
          instructions = RE2JS.compile(pattern).matcher("").programSize();
        } catch {
          return; // not a pattern RE2 compiles (a repetition of an empty-width assertion...)
        }
        expect(patternSize(pattern), pattern).toBeGreaterThanOrEqual(instructions);
      }),
      { numRuns: 2000 },
    );
  });
});
