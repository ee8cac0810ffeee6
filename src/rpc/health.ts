// grpc.health.v1.Health: the server's overall status ("") and each service's, SERVING once the store is open and
// migrated, NOT_SERVING while draining and while the database cannot be reached (watchStore).
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  Health,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as Status,
  HealthListResponseSchema,
} from "../../gen/health/v1/health_pb.js";
import { deepFreeze } from "../frozen-value.js";

export class HealthStatus {
  private readonly statuses = new Map<string, Status>();
  private readonly listeners = new Set<() => void>();

  /** Sets the status of the server ("") and of every named service. */
  setAll(services: readonly string[], status: Status): void {
    for (const name of ["", ...services]) this.statuses.set(name, status);
    for (const notify of this.listeners) notify();
  }

  get(service: string): Status | undefined {
    return this.statuses.get(service);
  }

  entries(): [string, Status][] {
    return [...this.statuses.entries()];
  }

  /** Calls `notify` on every change until the returned function is called. */
  subscribe(notify: () => void): () => void {
    this.listeners.add(notify);
    return () => this.listeners.delete(notify);
  }
}

export function healthService(health: HealthStatus): ServiceImpl<typeof Health> {
  // One frozen answer per status: probes are frequent, and the gRPC port encodes a frozen message once.
  const answers = new Map<Status, HealthCheckResponse>();
  return {
    check(req) {
      const status = health.get(req.service);
      if (status === undefined) throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
      let answer = answers.get(status);
      if (!answer) answers.set(status, (answer = deepFreeze(create(HealthCheckResponseSchema, { status }))));
      return answer;
    },
    async *watch(req, ctx) {
      let last: Status | undefined;
      let wake: () => void = () => undefined;
      const unsubscribe = health.subscribe(() => wake());
      try {
        while (!ctx.signal.aborted) {
          const status = health.get(req.service) ?? Status.SERVICE_UNKNOWN;
          if (status !== last) yield create(HealthCheckResponseSchema, { status });
          last = status;
          await new Promise<void>((resolve) => {
            wake = resolve;
            ctx.signal.addEventListener("abort", () => resolve(), { once: true });
          });
        }
        // Ended by the call's deadline or a cancellation: report that (DEADLINE_EXCEEDED, CANCELLED), not a clean end.
        ctx.signal.throwIfAborted();
      } finally {
        unsubscribe();
      }
    },
    list() {
      return create(HealthListResponseSchema, {
        statuses: Object.fromEntries(health.entries().map(([name, status]) => [name, { status }])),
      });
    },
  };
}

/** How often the store is asked whether the database answers. */
export const STORE_PROBE_MS = 1000;

/**
 * Asks the store for its newest sequence every STORE_PROBE_MS and reports each change of whether the database
 * answers; stop() ends it. A probe never overlaps the one before it.
 */
export function watchStore(store: { latestSequence(): Promise<unknown> }, changed: (reachable: boolean) => void): { stop(): void } {
  let reachable = true;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const probe = async () => {
    const now = await store.latestSequence().then(
      () => true,
      () => false,
    );
    if (stopped) return;
    if (now !== reachable) changed((reachable = now));
    timer = setTimeout(() => void probe(), STORE_PROBE_MS).unref();
  };
  timer = setTimeout(() => void probe(), STORE_PROBE_MS).unref();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
