// Property and fuzz tests use the run's printed seed, so a failure seen in CI can be replayed exactly.
import fc from "fast-check";
import { expect, test } from "vitest";

test("fast-check draws from the run's seed: the same seed gives the same inputs", () => {
  const seed = Number(process.env.FC_SEED);
  expect(Number.isSafeInteger(seed)).toBe(true);
  expect(fc.readConfigureGlobal().seed).toBe(seed);
  const draw = () => fc.sample(fc.integer(), { numRuns: 5 });
  expect(draw()).toEqual(draw());
});
