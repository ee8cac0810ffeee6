// The enforcement points on a service's own server: the connect interceptor maps each call by the author's rule and
// refuses with PERMISSION_DENIED (the same message whatever the reason), a call no rule maps is refused, a checker
// that cannot answer is UNAVAILABLE; the (req, res, next) middleware does the same over plain HTTP (403 / 503), on
// the mirror or by the RPC alike.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Code, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import {
  createPolicyClient,
  createPolicyMirror,
  enforceHttp,
  enforceInterceptor,
  type Checker,
  type PolicyMirror,
  type Verdict,
} from "../../src/client/index.js";
import { expectCode } from "../helpers/call-failures.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const ORG = "organizations/enf";
const PROJECT = "projects/enf_p";

let policyServer: TestServer;
let mirror: PolicyMirror;
const servers: Server[] = [];

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  policyServer = await startTestServer();
  await policyServer.grpc.resources.createResource({ resource: { name: ORG } });
  await policyServer.grpc.resources.createResource({ resource: { name: PROJECT, parent: ORG } });
  await policyServer.grpc.policies.setPolicy({ resource: PROJECT, policy: { bindings: [{ role: "roles/readonly", members: ["user:ada@example.com"] }] } });
  mirror = createPolicyMirror({ client: policyServer.grpc, scope: ORG });
  await mirror.ready;
});

afterAll(async () => {
  for (const server of servers) server.close();
  await mirror?.close();
  await policyServer?.stop();
});

/** A Connect service (gRPC health as a stand-in for the author's own) whose Check names the resource it reads. */
async function guardedService(checker: Checker, verdicts: Verdict[]) {
  const interceptor = enforceInterceptor({
    checker,
    rule: (call) =>
      call.procedure === "grpc.health.v1.Health/Check"
        ? {
            resource: (call.message as { service: string }).service,
            permission: "projects.get",
            principals: [call.header.get("x-principal") ?? ""].filter((p) => p !== ""),
          }
        : undefined,
    onDecision: (verdict) => verdicts.push(verdict),
  });
  const handler = connectNodeAdapter({
    interceptors: [interceptor],
    routes: (router) =>
      router.service(Health, {
        check: () => ({ status: HealthCheckResponse_ServingStatus.SERVING }),
        list: () => ({}),
        async *watch() {
          yield { status: HealthCheckResponse_ServingStatus.SERVING };
        },
      }),
  });
  const url = await listen(handler);
  return (principal?: string) =>
    createClient(
      Health,
      createConnectTransport({
        baseUrl: url,
        httpVersion: "1.1",
        interceptors: principal ? [(next) => (req) => (req.header.set("x-principal", principal), next(req))] : [],
      }),
    );
}

describe.each([
  ["the mirror", () => mirror as Checker],
  ["the RPC", () => policyServer.grpc as Checker],
])("the connect interceptor, checking on %s", (_, checker) => {
  test("lets granted calls through and refuses the rest alike", async () => {
    const verdicts: Verdict[] = [];
    const as = await guardedService(checker(), verdicts);
    expect((await as("user:ada@example.com").check({ service: PROJECT })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const refused = await expectCode(as("user:bob@example.com").check({ service: PROJECT }), Code.PermissionDenied);
    const absent = await expectCode(as("user:ada@example.com").check({ service: "projects/none" }), Code.PermissionDenied);
    const anonymous = await expectCode(as().check({ service: PROJECT }), Code.PermissionDenied);
    expect(new Set([refused.rawMessage, absent.rawMessage, anonymous.rawMessage])).toEqual(new Set(["permission denied"]));
    await expectCode(as("user:ada@example.com").list({}), Code.PermissionDenied);
    expect(verdicts).toEqual(["allow", "deny", "deny", "deny", "unmapped"]);
  });
});

test("a checker that cannot answer is UNAVAILABLE, and the middleware's 503", async () => {
  const down = createPolicyClient({ baseUrl: "http://127.0.0.1:1", protocol: "connect" });
  const as = await guardedService(down, []);
  await expectCode(as("user:ada@example.com").check({ service: PROJECT }), Code.Unavailable);
  const url = await listen((req, res) =>
    enforceHttp({ checker: down, rule: () => ({ resource: PROJECT, permission: "projects.get", principals: ["user:ada@example.com"] }) })(req, res, () =>
      res.end("ok"),
    ),
  );
  const response = await fetch(url);
  expect(response.status).toBe(503);
  expect(await response.json()).toEqual({ error: "authorization is unavailable; retry later" });
});

test("the HTTP middleware: (req, res, next) passes granted requests to next and answers 403 otherwise", async () => {
  const guard = enforceHttp({
    checker: mirror,
    rule: (req) => ({ resource: PROJECT, permission: req.method === "DELETE" ? "projects.delete" : "projects.get", principals: ["user:ada@example.com"] }),
  });
  const url = await listen((req, res) => guard(req, res, () => res.end("handled")));
  const ok = await fetch(url);
  expect([ok.status, await ok.text()]).toEqual([200, "handled"]);
  const refused = await fetch(url, { method: "DELETE" });
  expect([refused.status, await refused.json()]).toEqual([403, { error: "permission denied" }]);
});
