// Every property and fuzz test draws from the run's seed (see seed.global.ts).
import fc from "fast-check";

fc.configureGlobal({ seed: Number(process.env.FC_SEED) });
