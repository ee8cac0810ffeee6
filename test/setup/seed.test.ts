// Property and fuzz tests, and every random choice of a test, use the run's printed seed, so a failure seen in CI can
// be replayed exactly.
import fc from "fast-check";
import { expect, test } from "vitest";
import { seededRandom, testSeed } from "../helpers/seed.js";

test("fast-check draws from the run's seed: the same seed gives the same inputs", () => {
  const seed = Number(process.env.TEST_SEED);
  expect(Number.isSafeInteger(seed)).toBe(true);
  expect(fc.readConfigureGlobal().seed).toBe(seed);
  const draw = () => fc.sample(fc.integer(), { numRuns: 5 });
  expect(draw()).toEqual(draw());
});

test("seededRandom: the same stream gives the same numbers in [0, 1), another stream others", () => {
  expect(testSeed()).toBe(Number(process.env.TEST_SEED));
  const draw = (stream: string) => {
    const random = seededRandom(stream);
    return Array.from({ length: 20 }, () => random());
  };
  const a = draw("a");
  expect(draw("a")).toEqual(a);
  expect(draw("b")).not.toEqual(a);
  for (const x of a) expect(x >= 0 && x < 1).toBe(true);
  expect(new Set(a).size).toBe(a.length);
});
