// grpc.health.v1.Health on both ports: every exposed service SERVING after start, NOT_FOUND for an unknown one, and a
// Watch that sees SERVING and then NOT_SERVING once the server starts to drain.
import * as grpc from "@grpc/grpc-js";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as Status,
  type HealthCheckResponse,
} from "../../gen/health/v1/health_pb.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { rawServerStream, rawUnary } from "../helpers/grpc-js.js";
import { API_SERVICES, apiClients, CALL_TIMEOUT_MS, expectCode, removeDir } from "./support.js";

const EXPOSED = [
  "",
  ...API_SERVICES,
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];


describe("Check and List on a running server", () => {
  let server: TestServer;
  beforeAll(async () => (server = await startTestServer()));
  afterAll(async () => {
    await server?.stop();
  });

  describe.each(["main", "grpc"] as const)("on the %s port", (port) => {
    const health = () => apiClients(port === "main" ? server.url : `http://${server.grpcAddress}`).health;

    test.each(EXPOSED)("service %j is SERVING", async (service) => {
      const res = await health().check({ service });
      expect(Status[res.status]).toBe("SERVING");
    });

    test("an unknown service is NOT_FOUND", async () => {
      await expectCode(health().check({ service: "policy.v1.NoSuchService" }), Code.NotFound);
    });

    test("List names every exposed service as SERVING", async () => {
      const res = await health().list({});
      expect(Object.keys(res.statuses)).toEqual(expect.arrayContaining(EXPOSED));
      for (const status of Object.values(res.statuses)) expect(Status[status.status]).toBe("SERVING");
    });

    test("Watch of an unknown service streams SERVICE_UNKNOWN without ending the call", async () => {
      const abort = new AbortController();
      const stream = health().watch({ service: "policy.v1.NoSuchService" }, { signal: abort.signal, timeoutMs: CALL_TIMEOUT_MS });
      const iterator = stream[Symbol.asyncIterator]();
      const first = await iterator.next();
      expect(first.done).toBe(false);
      expect(Status[first.value!.status]).toBe("SERVICE_UNKNOWN");
      abort.abort();
      await expectCode(iterator.next(), Code.Canceled);
    });
  });

  test("a grpc-js client checks health on both ports", async () => {
    for (const address of [new URL(server.url).host, server.grpcAddress]) {
      const client = new grpc.Client(address, grpc.credentials.createInsecure());
      try {
        const res = await rawUnary(client, "/grpc.health.v1.Health/Check", HealthCheckRequestSchema, HealthCheckResponseSchema, {
          $typeName: "grpc.health.v1.HealthCheckRequest",
          service: "policy.v1.PolicyService",
        });
        expect(Status[res.status]).toBe("SERVING");
        const unknown = await rawUnary(client, "/grpc.health.v1.Health/Check", HealthCheckRequestSchema, HealthCheckResponseSchema, {
          $typeName: "grpc.health.v1.HealthCheckRequest",
          service: "nope",
        }).catch((e: grpc.ServiceError) => e);
        expect((unknown as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
      } finally {
        client.close();
      }
    }
  });
});

/** Collects a Watch stream's statuses; resolves `seen(n)` once n have arrived. */
class Watched {
  readonly statuses: string[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  push(status: Status): void {
    this.statuses.push(Status[status]);
    this.waiters = this.waiters.filter((w) => (this.statuses.length >= w.n ? (w.resolve(), false) : true));
  }
  seen(n: number): Promise<void> {
    if (this.statuses.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

test("Watch on both ports streams SERVING, then NOT_SERVING when the server starts to close", async () => {
  const server = await startTestServer();
  const abort = new AbortController();
  const grpcJsClient = new grpc.Client(server.grpcAddress, grpc.credentials.createInsecure());
  const watches: { name: string; watched: Watched; done: Promise<unknown> }[] = [];
  let closed: Promise<void> | undefined;
  try {
    // connect-es over gRPC on the main port and on the grpc-js port, for the server and for one service.
    for (const [name, url, service] of [
      ["main port, server", server.url, ""],
      ["main port, PolicyService", server.url, "policy.v1.PolicyService"],
      ["grpc port, server", `http://${server.grpcAddress}`, ""],
      ["grpc port, AccessService", `http://${server.grpcAddress}`, "policy.v1.AccessService"],
    ] as const) {
      const watched = new Watched();
      const stream = apiClients(url).health.watch({ service }, { signal: abort.signal, timeoutMs: CALL_TIMEOUT_MS * 2 });
      const done = (async () => {
        for await (const res of stream) watched.push(res.status);
      })().catch(() => undefined);
      watches.push({ name, watched, done });
    }
    // And an independent gRPC implementation, grpc-js, on the gRPC port.
    const watched = new Watched();
    const call = rawServerStream(grpcJsClient, "/grpc.health.v1.Health/Watch", HealthCheckRequestSchema, HealthCheckResponseSchema, {
      $typeName: "grpc.health.v1.HealthCheckRequest",
      service: "policy.v1.ResourceService",
    });
    call.on("data", (res: HealthCheckResponse) => watched.push(res.status));
    const done = new Promise((resolve) => {
      call.on("error", resolve);
      call.on("end", resolve);
    });
    abort.signal.addEventListener("abort", () => call.cancel());
    watches.push({ name: "grpc-js on the grpc port, ResourceService", watched, done });

    await Promise.all(watches.map((w) => w.watched.seen(1)));
    for (const w of watches) expect(w.watched.statuses, w.name).toEqual(["SERVING"]);

    closed = server.close();
    await Promise.all(watches.map((w) => w.watched.seen(2)));
    for (const w of watches) expect(w.watched.statuses, w.name).toEqual(["SERVING", "NOT_SERVING"]);
    expect(server.health.get("")).toBe(Status.NOT_SERVING);
  } finally {
    // The watchers hang up, which lets the drain finish.
    abort.abort();
    await Promise.all(watches.map((w) => w.done));
    grpcJsClient.close();
    await (closed ?? server.close());
    removeDir(server.dir);
  }
});

test("after close(), calls on both ports are refused with UNAVAILABLE", async () => {
  const server = await startTestServer();
  const main = apiClients(server.url);
  const grpcPort = apiClients(`http://${server.grpcAddress}`);
  expect(Status[(await main.health.check({})).status]).toBe("SERVING");
  expect(Status[(await grpcPort.health.check({})).status]).toBe("SERVING");
  await server.close();
  removeDir(server.dir);
  // Fresh clients: no connection to reuse, and nothing is listening any more.
  await expectCode(apiClients(server.url).health.check({}), Code.Unavailable);
  await expectCode(apiClients(`http://${server.grpcAddress}`).health.check({}), Code.Unavailable);
});
