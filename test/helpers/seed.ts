// Randomness in tests comes from the run's one printed seed (test/setup/seed.global.ts), so a failure replays with
// TEST_SEED=N. Each caller names its stream: what one test draws does not depend on what others drew before it, so
// the draws stay the same whatever order the tests run in.

/** The run's seed: TEST_SEED, set and printed by the global setup (or given to replay a run). */
export function testSeed(): number {
  const seed = Number(process.env.TEST_SEED ?? process.env.FC_SEED);
  if (!Number.isSafeInteger(seed)) throw new Error("TEST_SEED is not set: run the tests through vitest (test/setup/seed.global.ts)");
  return seed;
}

/** A generator of numbers in [0, 1) for `stream` (say, the test's name), from the run's seed: Math.random's stand-in. */
export function seededRandom(stream: string): () => number {
  // FNV-1a of the stream's name mixed with the seed, then mulberry32: small, fast, and good enough to pick test inputs.
  let state = testSeed() >>> 0;
  for (const char of stream) state = Math.imul(state ^ char.charCodeAt(0), 16777619) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
