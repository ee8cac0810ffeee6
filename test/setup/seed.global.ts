// One fast-check seed for the whole run, printed so that a failure can be replayed: fixed under CI (the same inputs
// every run), random locally (new inputs every run). FC_SEED=N replays a run.
export default function setup(): void {
  const given = process.env.FC_SEED;
  const seed = given !== undefined && given !== "" ? Number(given) : process.env.CI === "true" ? 20261126 : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED must be an integer (got "${given}")`);
  process.env.FC_SEED = String(seed);
  console.log(`fast-check seed: ${seed} (replay with FC_SEED=${seed} npm test)`);
}
