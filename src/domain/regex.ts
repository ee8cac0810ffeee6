// Regular expressions of conditions (`matches`): RE2 syntax and semantics, as CEL specifies, matched by re2js (a
// port of RE2/J: automata, no backtracking), so a match takes time linear in its input times the pattern's size.
// A pattern's size is worked out from its text before it is compiled (compiling is itself linear in the size, and a
// 20-character pattern can compile to 12,000 instructions), and that size is what conditions.ts charges a match by.
import { createRequire } from "node:module";
import type * as Re2js from "re2js";

/** re2js, loaded when a first pattern is compiled: ~700 KB of code that a server without patterns need not parse. */
let re2js: typeof Re2js | undefined;
function engine(): typeof Re2js {
  return (re2js ??= createRequire(import.meta.url)("re2js") as typeof Re2js);
}

/**
 * Largest pattern size (see patternSize) a condition may use. RE2 caps a repetition at {1000} and a program at
 * several hundred thousand instructions; a condition runs on every check, so its patterns are kept much smaller.
 */
export const MAX_PATTERN_SIZE = 5_000;

export interface Regex {
  /** patternSize of the pattern: at least the number of instructions it compiled to. */
  readonly size: number;
  /** Whether the pattern matches anywhere in `text` (CEL's `matches` is a search, not a whole-string match). */
  test(text: string): boolean;
}

/**
 * An upper bound of the number of instructions RE2 compiles `pattern` to, from its text alone: an atom (a character,
 * an escape, a class, `.`, `^`, `$`) counts 1, a group 3, a `|` 2; `*`, `+` and `?` add 1 to what they repeat, and
 * `x{n,m}` counts as RE2 expands it: n copies of x and m-n optional ones (1 more each). Linear in the text.
 */
export function patternSize(pattern: string): number {
  // The open groups, innermost last: the size of what each holds so far, and of its last item (which a repetition
  // operator applies to). The outermost is the pattern itself.
  const groups: { done: number; last: number }[] = [{ done: 0, last: 0 }];
  let group = groups[0]!;
  const item = (size: number) => {
    group.done += group.last;
    group.last = size;
  };
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === "\\" && pattern[i + 1] === "Q") {
      // \Q...\E: every character a literal of its own.
      const end = pattern.indexOf("\\E", i + 2);
      const stop = end < 0 ? pattern.length : end;
      for (let j = i + 2; j < stop; j++) item(1);
      i = end < 0 ? pattern.length : end + 2;
    } else if (c === "\\") {
      item(1);
      i = afterEscape(pattern, i);
    } else if (c === "[") {
      item(1);
      i = afterClass(pattern, i);
    } else if (c === "(") {
      const body = afterGroupPrefix(pattern, i);
      if (body === undefined) {
        // `(?i)`: flags for the rest of the group (counted 1: alone, it compiles to an empty match).
        item(1);
        i = pattern.indexOf(")", i) + 1;
      } else {
        groups.push((group = { done: 0, last: 0 }));
        i = body;
      }
    } else if (c === ")" && groups.length > 1) {
      const closed = groups.pop()!;
      group = groups[groups.length - 1]!;
      item(closed.done + closed.last + 3);
      i++;
    } else if (c === "|") {
      group.done += group.last + 2;
      group.last = 0;
      i++;
    } else if (c === "*" || c === "+" || c === "?") {
      group.last += 1;
      i = pattern[i + 1] === "?" ? i + 2 : i + 1;
    } else if (c === "{" && repetition(pattern, i)) {
      const { min, max, end } = repetition(pattern, i)!;
      const x = group.last;
      const copies = max === undefined ? min * x + x + 1 : min * x + (max - min) * (x + 1);
      group.last = Math.max(1, copies);
      i = pattern[end] === "?" ? end + 1 : end;
    } else {
      item(1);
      i++;
    }
  }
  while (groups.length > 1) {
    // An unclosed group does not compile; count it all the same.
    const closed = groups.pop()!;
    group = groups[groups.length - 1]!;
    item(closed.done + closed.last + 3);
  }
  // The program's first (fail) and last (match) instructions.
  return group.done + group.last + 2;
}

/** The index after the escape at `i` (`\d`, `\pL`, `\p{Greek}`, `\x41`, `\x{263a}`, `\123`). */
function afterEscape(pattern: string, i: number): number {
  const c = pattern[i + 1];
  if ((c === "p" || c === "P" || c === "x") && pattern[i + 2] === "{") {
    const end = pattern.indexOf("}", i + 3);
    return end < 0 ? pattern.length : end + 1;
  }
  if (c === "p" || c === "P") return i + 3;
  if (c === "x") return i + 4;
  if (c !== undefined && c >= "0" && c <= "7") {
    let j = i + 2;
    while (j < i + 4 && pattern[j] !== undefined && pattern[j]! >= "0" && pattern[j]! <= "7") j++;
    return j;
  }
  return i + 2;
}

/** The index after the character class opening at `i`. */
function afterClass(pattern: string, i: number): number {
  let j = i + 1;
  if (pattern[j] === "^") j++;
  if (pattern[j] === "]") j++;
  while (j < pattern.length && pattern[j] !== "]") {
    if (pattern[j] === "\\") j = afterEscape(pattern, j);
    else if (pattern.startsWith("[:", j)) {
      const end = pattern.indexOf(":]", j + 2);
      j = end < 0 ? j + 1 : end + 2;
    } else j++;
  }
  return j + 1;
}

/**
 * The index where the body of the group opening at `i` starts (after `(`, `(?:`, `(?i:`, `(?P<name>`), or
 * undefined for a flags-only group (`(?i)`).
 */
function afterGroupPrefix(pattern: string, i: number): number | undefined {
  if (pattern[i + 1] !== "?") return i + 1;
  if (pattern[i + 2] === "P" || pattern[i + 2] === "<") {
    const end = pattern.indexOf(">", i + 2);
    return end < 0 ? pattern.length : end + 1;
  }
  let j = i + 2;
  while (j < pattern.length && pattern[j] !== ":" && pattern[j] !== ")") j++;
  return pattern[j] === ")" ? undefined : j + 1;
}

/** `{n}`, `{n,}` or `{n,m}` at `i` as RE2 reads it (anything else is a literal `{`). */
function repetition(pattern: string, i: number): { min: number; max: number | undefined; end: number } | undefined {
  const match = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i, i + 16));
  if (!match) return undefined;
  const min = Number(match[1]);
  const max = match[2] === undefined ? min : match[3] === "" ? undefined : Number(match[3]);
  return { min, max: max === undefined ? undefined : Math.max(min, max), end: i + match[0].length };
}

// ---- Compiled patterns, kept while they are used --------------------------------------------------------------------

/** Bytes a compiled instruction holds, with the matching machine kept for it (measured: 70-200). */
const BYTES_PER_INSTRUCTION = 256;
/** Bytes of compiled patterns kept (least recently used first out). */
const CACHE_BYTES = 32 * 1024 * 1024;

/** Compiled patterns (or why they do not compile) by pattern, least recently used first. */
const cache = new Map<string, Regex | string>();
let cachedBytes = 0;

/**
 * The compiled pattern, or why it is not a valid one: RE2's syntax error (a backreference, a lookaround, a
 * repetition over 1000...), or a size over MAX_PATTERN_SIZE. Compiled at most once while it stays in use.
 */
export function compileRegex(pattern: string): Regex | string {
  let compiled = cache.get(pattern);
  if (compiled !== undefined) {
    cache.delete(pattern);
  } else {
    compiled = compile(pattern);
    cachedBytes += bytesOf(pattern, compiled);
  }
  cache.set(pattern, compiled);
  for (const [old, entry] of cache) {
    if (cachedBytes <= CACHE_BYTES || cache.size <= 1) break;
    cache.delete(old);
    cachedBytes -= bytesOf(old, entry);
  }
  return compiled;
}

function compile(pattern: string): Regex | string {
  const size = patternSize(pattern);
  if (size > MAX_PATTERN_SIZE) {
    return `regular expression is too large: size ${size}, at most ${MAX_PATTERN_SIZE} (x{n} counts n times x)`;
  }
  const { RE2JS, RE2JSException } = engine();
  let re: Re2js.RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    if (e instanceof RE2JSException) return e.message.replace(/^error parsing regexp: /, "");
    throw e;
  }
  return {
    size,
    // A matcher's search runs RE2's NFA (or its one-pass or bit-state machine): time linear in text times program,
    // and no DFA. test() would build a DFA first, whose states cost far more to build (up to 8 MiB kept per pattern).
    test: (text) => re.matcher(text).find(),
  };
}

function bytesOf(pattern: string, compiled: Regex | string): number {
  return 2 * pattern.length + (typeof compiled === "string" ? 2 * compiled.length : compiled.size * BYTES_PER_INSTRUCTION);
}
