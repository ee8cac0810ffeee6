// One seed for the whole run, printed so that a failure can be replayed: fixed under CI (the same inputs every run),
// random locally (new inputs every run). TEST_SEED=N replays a run (FC_SEED=N, its older name, still works). Every
// random choice of a test draws from it: fast-check's properties (seed.ts) and test/helpers/seed.ts's seededRandom.
export default function setup(): void {
  const given = process.env.TEST_SEED || process.env.FC_SEED;
  const seed = given !== undefined && given !== "" ? Number(given) : process.env.CI === "true" ? 20261126 : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isSafeInteger(seed)) throw new Error(`TEST_SEED must be an integer (got "${given}")`);
  process.env.TEST_SEED = String(seed);
  process.env.FC_SEED = String(seed);
  console.log(`test seed: ${seed} (replay with TEST_SEED=${seed} npm test)`);
}
