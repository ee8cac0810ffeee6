// The victim of `npm run bench:attacks`, on a thread of its own: an unrelated tenant is another program, so its calls
// must not wait behind the attacker's client work in the benchmark's own event loop (building and encoding the
// attacker's 1,500-member policies there added up to ~100 ms to the victim's measured latency).
import { parentPort, workerData } from "node:worker_threads";
import { createPolicyClient } from "../src/client/index.js";

export interface VictimJob {
  baseUrl: string;
  token: string;
  project: string;
  ms: number;
  callers: number;
}

export interface VictimResult {
  /** Every call's latency in ms, sorted. */
  samples: number[];
  errors: number;
}

const job = workerData as VictimJob;
const client = createPolicyClient({ baseUrl: job.baseUrl, token: job.token });
const signal = AbortSignal.timeout(job.ms);
const samples: number[] = [];
let errors = 0;
await Promise.all(
  Array.from({ length: job.callers }, async () => {
    while (!signal.aborted) {
      const started = performance.now();
      try {
        await client.policies.getPolicy({ resource: job.project }, { timeoutMs: 60_000 });
      } catch {
        errors++;
      }
      samples.push(performance.now() - started);
    }
  }),
);
client.close();
samples.sort((a, b) => a - b);
parentPort!.postMessage({ samples, errors } satisfies VictimResult);
