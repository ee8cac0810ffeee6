// Every property and fuzz test draws from the run's seed (see seed.global.ts); fast-check prints it with a failure.
import fc from "fast-check";
import { testSeed } from "../helpers/seed.js";

fc.configureGlobal({ seed: testSeed() });
