// A grpc.health.v1.Health Watch stream held open by a test, to wait for a server's status to change (NOT_SERVING
// during a database outage, SERVING again after) as the server announces it, rather than asking on a timer.
import type { Client } from "@connectrpc/connect";
import { type Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/health/v1/health_pb.js";
import { waitFor } from "./wait.js";

export interface HealthWatch {
  /** Every status the stream has sent, in order. */
  readonly seen: readonly Status[];
  /** Resolves once the stream has sent `status` at or after its `from`-th message; rejects if the stream fails. */
  reaches(status: Status, from?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Watches the server's overall status (service ""); give it a client without a deadline. */
export function watchHealth(health: Client<typeof Health>): HealthWatch {
  const abort = new AbortController();
  const seen: Status[] = [];
  let failure: unknown;
  const ended = (async () => {
    try {
      for await (const m of health.watch({ service: "" }, { signal: abort.signal })) seen.push(m.status);
    } catch (e) {
      if (!abort.signal.aborted) failure = e;
    }
  })();
  return {
    seen,
    async reaches(status, from = 0) {
      await waitFor(() => {
        if (failure) throw failure;
        return seen.slice(from).includes(status);
      }, `health status ${Status[status]} (seen: ${seen.map((s) => Status[s]).join(", ") || "nothing"})`);
    },
    async stop() {
      abort.abort();
      await ended;
    },
  };
}

export { Status };
