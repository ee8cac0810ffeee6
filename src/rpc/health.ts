// grpc.health.v1.Health: the server's overall status ("") and each service's, SERVING once the store is open and
// migrated, NOT_SERVING while draining.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as Status,
  HealthListResponseSchema,
} from "../../gen/health/v1/health_pb.js";

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
  return {
    check(req) {
      const status = health.get(req.service);
      if (status === undefined) throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
      return create(HealthCheckResponseSchema, { status });
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
