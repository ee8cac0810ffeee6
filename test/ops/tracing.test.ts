// OpenTelemetry tracing against an OTLP/HTTP receiver started here: a call with a W3C traceparent, on either port and
// every protocol, becomes a server span of the caller's trace with store spans beneath it; a Watch delivery links to
// the write that caused it; member identities and resource names are never exported; without an endpoint nothing is.
import { randomBytes } from "node:crypto";
import { Code, type Interceptor } from "@connectrpc/connect";
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AccessState } from "../../gen/policy/v1/access_service_pb.js";
import { loadConfig, type Config } from "../../src/config.js";
import { createPolicyClient } from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { apiClients, type Protocol } from "../helpers/clients.js";
import { expectCode, uniqueId } from "./support.js";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "./otlp-receiver.js";

// Spans are exported within 50 ms of ending (the batch processor reads this when the server starts).
process.env.OTEL_BSP_SCHEDULE_DELAY = "50";

const MEMBER = "user:ada.tracing@example.com";
const GET_POLICY = "policy.v1.PolicyService/GetPolicy";
const SET_POLICY = "policy.v1.PolicyService/SetPolicy";

let receiver: OtlpReceiver;
let server: TestServer;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  server = await startTestServer({ otlpEndpoint: `${receiver.endpoint}/v1/traces` });
});
afterAll(async () => {
  await server?.stop();
  await receiver?.close();
});

/** A new trace: its id and a `traceparent` naming a (caller's) span of it, sampled or not. */
function newTrace(sampled = true) {
  const traceId = randomBytes(16).toString("hex");
  const parentId = randomBytes(8).toString("hex");
  return { traceId, parentId, traceparent: `00-${traceId}-${parentId}-${sampled ? "01" : "00"}` };
}

function withTraceparent(traceparent: string): Interceptor {
  return (next) => (req) => {
    req.header.set("traceparent", traceparent);
    return next(req);
  };
}

/** Clients at `baseUrl` on `protocol` whose every call carries `traceparent`. */
function tracedClients(baseUrl: string, protocol: Protocol, traceparent: string) {
  return apiClients(baseUrl, { protocol, interceptors: [withTraceparent(traceparent)] });
}

async function organizationWithPolicy(): Promise<string> {
  const org = `organizations/${uniqueId("trace")}`;
  await server.grpc.resources.createResource({ resource: { name: org } });
  await server.grpc.policies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/owner", members: [MEMBER] }] } });
  return org;
}

const inTrace = (traceId: string) => (s: ReceivedSpan) => s.traceId === traceId;

/** The spans of a trace below `root` (children, grandchildren, ...). */
function descendants(spans: ReceivedSpan[], root: ReceivedSpan): ReceivedSpan[] {
  const below = spans.filter((s) => s.parentSpanId === root.spanId);
  return below.flatMap((s) => [s, ...descendants(spans, s)]);
}

/** Everything a test may not find in any export: members, principals, resource names. */
function expectNothingIdentifying(...forbidden: string[]) {
  const text = receiver.bodies.join("\n");
  for (const value of [MEMBER, "ada.tracing", ...forbidden]) expect(text, value).not.toContain(value);
}

describe.each<{ port: "main" | "grpc"; protocol: Protocol }>([
  { port: "main", protocol: "grpc" },
  { port: "main", protocol: "connect" },
  { port: "main", protocol: "grpc-web" },
  { port: "grpc", protocol: "grpc" },
])("a call on the $port port over $protocol", ({ port, protocol }) => {
  test("with a traceparent is a server span of the caller's trace, with its method, code and store spans", async () => {
    const org = await organizationWithPolicy();
    const { traceId, parentId, traceparent } = newTrace();
    const baseUrl = port === "main" ? server.url : `http://${server.grpcAddress}`;
    await tracedClients(baseUrl, protocol, traceparent).policies.getPolicy({ resource: org });

    const [call] = await receiver.until((s) => s.traceId === traceId && s.name === GET_POLICY);
    expect(call!.parentSpanId).toBe(parentId);
    expect(call!.kind).toBe(2); // SERVER
    expect(call!.attributes).toMatchObject({
      "rpc.method": GET_POLICY,
      "rpc.service": "policy.v1.PolicyService",
      "rpc.status_code": "OK",
      "rpc.system.name": protocol === "connect" ? "connectrpc" : "grpc",
      "policy.rpc.protocol": protocol,
      "policy.resource.type": "organization",
    });
    expect(call!.resource["service.name"]).toBe("policy-service");
    // The read went through the cache (a write just evicted the entry: a miss) to the database.
    const below = descendants(receiver.spans.filter(inTrace(traceId)), call!);
    const cache = below.filter((s) => s.name.startsWith("cache "));
    expect(cache.length).toBeGreaterThan(0);
    expect(cache.some((s) => s.attributes["policy.cache.hit"] === false)).toBe(true);
    expect(below.some((s) => ["sqlite", "postgresql"].includes(String(s.attributes["db.system.name"])))).toBe(true);
    expectNothingIdentifying(org);
  });
});

test("a failed call's span carries its code", async () => {
  const { traceId, traceparent } = newTrace();
  const missing = `projects/${uniqueId("missing")}`;
  await expectCode(tracedClients(server.url, "grpc", traceparent).policies.getPolicy({ resource: missing }), Code.NotFound);
  const [call] = await receiver.until((s) => s.traceId === traceId && s.name === GET_POLICY);
  expect(call!.attributes["rpc.status_code"]).toBe("NOT_FOUND");
  expectNothingIdentifying(missing);
});

test("a write shows the group commit it waited for, and a conditional access check its condition's evaluation", async () => {
  const org = `organizations/${uniqueId("cond")}`;
  await server.grpc.resources.createResource({ resource: { name: org } });
  const write = newTrace();
  await tracedClients(server.url, "grpc", write.traceparent).policies.setPolicy({
    resource: org,
    policy: {
      version: 3,
      bindings: [{ role: "roles/owner", members: [MEMBER], condition: { expression: 'request.attributes["tier"] == "gold"' } }],
    },
  });
  const [commit] = await receiver.until((s) => s.traceId === write.traceId && s.name.endsWith(" commit"));
  expect(commit!.attributes["policy.commit.writes"]).toBeGreaterThanOrEqual(1);
  const [setPolicy] = await receiver.until((s) => s.traceId === write.traceId && s.name === SET_POLICY);
  expect(descendants(receiver.spans.filter(inTrace(write.traceId)), setPolicy!)).toContainEqual(commit);

  const check = newTrace();
  const answer = await tracedClients(server.url, "grpc", check.traceparent).access.checkAccess({
    resource: org,
    principals: [MEMBER],
    permissions: ["organizations.getPolicy"],
    attributes: { tier: { kind: { case: "stringValue", value: "gold" } } },
  });
  expect(answer.results.length).toBe(1);
  const evaluations = await receiver.until((s) => s.traceId === check.traceId && s.name === "condition evaluate");
  expect(evaluations[0]!.attributes["policy.condition.result"]).toBe("true");
  expect(evaluations[0]!.attributes["policy.condition.cost"]).toBeGreaterThan(0);
  expectNothingIdentifying(org, "gold", "tier");
});

test("each condition of a check is its own span: its outcome (true, false or error) and what it alone spent", async () => {
  const org = `organizations/${uniqueId("conds")}`;
  await server.grpc.resources.createResource({ resource: { name: org } });
  // Two conditions of the same shape (so the same cost), one true and one false, and one that fails (no such attribute).
  const bindings = ["gold", "teal", "missing"].map((value) => ({
    role: "roles/owner",
    members: [MEMBER],
    condition: { expression: value === "missing" ? 'request.attributes["zone"] == "x"' : `request.attributes["tier"] == "${value}"` },
  }));
  await server.grpc.policies.setPolicy({ resource: org, policy: { version: 3, bindings } });
  const check = newTrace();
  await tracedClients(server.url, "grpc", check.traceparent).access.checkAccess({
    resource: org,
    principals: [MEMBER],
    permissions: ["organizations.getPolicy"],
    attributes: { tier: { kind: { case: "stringValue", value: "gold" } } },
    explain: true,
  });
  const isEvaluation = (s: ReceivedSpan) => s.traceId === check.traceId && s.name === "condition evaluate";
  // Woken at each export: until all three evaluations have arrived.
  await receiver.until(() => receiver.spans.filter(isEvaluation).length >= 3);
  const evaluations = receiver.spans.filter(isEvaluation);
  const results = evaluations.map((s) => s.attributes["policy.condition.result"]);
  expect([...results].sort()).toEqual(["error", "false", "true"]);
  // Not the call's running total: the true and the false condition each cost the same.
  const cost = (result: string) => evaluations[results.indexOf(result)]!.attributes["policy.condition.cost"];
  expect(cost("true")).toBeGreaterThan(0);
  expect(cost("false")).toBe(cost("true"));
});

test("a traced who-can lookup weighs a conditional deny rule: its evaluation is a span too", async () => {
  const org = `organizations/${uniqueId("lkdeny")}`;
  await server.grpc.resources.createResource({ resource: { name: org } });
  await server.grpc.policies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/owner", members: [MEMBER] }] } });
  await server.grpc.denyPolicies.setDenyPolicy({
    resource: org,
    denyPolicy: {
      rules: [{ deniedPrincipals: [MEMBER], deniedPermissions: ["organizations.getPolicy"], denialCondition: { expression: 'request.attributes["tier"] == "gold"' } }],
    },
  });
  const lookup = newTrace();
  const answer = await tracedClients(server.url, "grpc", lookup.traceparent).access.lookupMembers({
    resource: org,
    permission: "organizations.getPolicy",
    attributes: { tier: { kind: { case: "stringValue", value: "silver" } } },
  });
  // The deny rule's condition is false: the owner holds the permission.
  expect(answer.grants.map((g) => [g.member, g.state])).toEqual([[MEMBER, AccessState.GRANTED]]);
  const [evaluation] = await receiver.until((s) => s.traceId === lookup.traceId && s.name === "condition evaluate");
  expect(evaluation!.attributes["policy.condition.result"]).toBe("false");
});

test("a Watch delivery is a span linked to the span of the write that caused it", async () => {
  const org = `organizations/${uniqueId("watch")}`;
  await server.grpc.resources.createResource({ resource: { name: org } });
  const watching = newTrace();
  const abort = new AbortController();
  const stream = tracedClients(server.url, "grpc", watching.traceparent).watch.watch({ subtree: org }, { signal: abort.signal });
  const iterator = stream[Symbol.asyncIterator]();
  // The first message says where the stream starts: writes after it are delivered.
  expect((await iterator.next()).value?.event.case).toBe("progress");

  const write = newTrace();
  await tracedClients(server.url, "grpc", write.traceparent).policies.setPolicy({
    resource: org,
    policy: { bindings: [{ role: "roles/owner", members: [MEMBER] }] },
  });
  for (;;) {
    const { value } = await iterator.next();
    if (value?.event.case === "change") break;
  }
  const [setPolicy] = await receiver.until((s) => s.traceId === write.traceId && s.name === SET_POLICY);
  const [delivery] = await receiver.until((s) => s.traceId === watching.traceId && s.name === "watch deliver");
  expect(delivery!.links).toContainEqual(expect.objectContaining({ traceId: write.traceId, spanId: setPolicy!.spanId }));
  expect(delivery!.attributes).toMatchObject({ "policy.change.action": "policy.set", "policy.resource.type": "organization" });
  abort.abort();
  expectNothingIdentifying(org);
});

test("a batched Watch delivery is a span too, ended with its batch", async () => {
  const org = `organizations/${uniqueId("watchbatch")}`;
  await server.grpc.resources.createResource({ resource: { name: org } });
  const watching = newTrace();
  const abort = new AbortController();
  const stream = tracedClients(server.url, "grpc", watching.traceparent).watch.watch({ subtree: org, batch: true }, { signal: abort.signal });
  const iterator = stream[Symbol.asyncIterator]();
  expect((await iterator.next()).value?.event.case).toBe("progress");
  await server.grpc.policies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/owner", members: [MEMBER] }] } });
  for (;;) {
    const { value } = await iterator.next();
    if (value?.event.case === "batch") break;
  }
  // A span is exported when it ends: the batch's delivery span arrives only if the stream ended it.
  const [delivery] = await receiver.until((s) => s.traceId === watching.traceId && s.name === "watch deliver");
  expect(delivery!.attributes).toMatchObject({ "policy.change.action": "policy.set", "policy.resource.type": "organization" });
  abort.abort();
  expectNothingIdentifying(org);
});

test("the SDK sends the caller's active trace context", async () => {
  // What an application's OpenTelemetry setup does: a context manager, the W3C propagator, a tracer.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const tracer = new BasicTracerProvider().getTracer("test-app");
  const org = await organizationWithPolicy();
  const client = createPolicyClient({ baseUrl: `http://${server.grpcAddress}` });
  const span = tracer.startSpan("application work");
  await context.with(trace.setSpan(context.active(), span), () => client.policies.getPolicy({ resource: org }));
  span.end();
  client.close();
  const [call] = await receiver.until((s) => s.traceId === span.spanContext().traceId && s.name === GET_POLICY);
  expect(call!.parentSpanId).toBe(span.spanContext().spanId);
  propagation.disable();
});

test("a call whose caller did not sample its trace is not traced, and nor is its store work", async () => {
  const org = await organizationWithPolicy();
  const unsampled = newTrace(false);
  await tracedClients(server.url, "grpc", unsampled.traceparent).policies.getPolicy({ resource: org });
  // A sampled call made after it: once its span has arrived, the unsampled call's would have too.
  const marker = newTrace();
  await tracedClients(server.url, "grpc", marker.traceparent).policies.getPolicy({ resource: org });
  await receiver.until(inTrace(marker.traceId));
  expect(receiver.spans.filter(inTrace(unsampled.traceId))).toEqual([]);
});

test("a server without an endpoint exports nothing", async () => {
  const untraced = await startTestServer();
  const call = newTrace();
  try {
    const clients = tracedClients(untraced.url, "grpc", call.traceparent);
    await clients.resources.createResource({ resource: { name: `organizations/${uniqueId("off")}` } });
    await clients.policies.getPolicy({ resource: `organizations/${uniqueId("off")}` }).catch(() => undefined);
  } finally {
    await untraced.stop();
  }
  // The traced server's export of a later call has arrived: nothing of the untraced server's is on its way.
  const marker = newTrace();
  await tracedClients(server.url, "grpc", marker.traceparent).policies.getPolicy({ resource: await organizationWithPolicy() });
  await receiver.until(inTrace(marker.traceId));
  expect(receiver.spans.filter(inTrace(call.traceId))).toEqual([]);
});

describe("configuration", () => {
  const config = (argv: string[], env: NodeJS.ProcessEnv = {}) => loadConfig(argv, env) as Config;

  test("tracing is off by default, on with --otlp-endpoint or OTEL_EXPORTER_OTLP_ENDPOINT", () => {
    expect(config([]).otlpEndpoint).toBeUndefined();
    expect(config(["--otlp-endpoint", "http://collector:4318"]).otlpEndpoint).toBe("http://collector:4318/v1/traces");
    expect(config([], { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" }).otlpEndpoint).toBe("http://collector:4318/v1/traces");
    expect(config([], { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/custom" }).otlpEndpoint).toBe("http://collector:4318/custom");
    expect(config([], { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }).otlpEndpoint).toBeUndefined();
  });

  test("the sampler comes from OTEL_TRACES_SAMPLER and its argument; bad values are refused at start", () => {
    expect(config([]).tracesSampler).toBe("parentbased_always_on");
    const ratio = config([], { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.25", OTEL_SERVICE_NAME: "iam" });
    expect([ratio.tracesSampler, ratio.tracesSamplerRatio, ratio.serviceName]).toEqual(["parentbased_traceidratio", 0.25, "iam"]);
    expect(() => config([], { OTEL_TRACES_SAMPLER: "sometimes" })).toThrow(/OTEL_TRACES_SAMPLER.*not one of/);
    expect(() => config([], { OTEL_TRACES_SAMPLER_ARG: "2" })).toThrow(/not a ratio from 0 to 1/);
    expect(() => config(["--otlp-endpoint", "collector:4318"])).toThrow(/not an http:\/\/ or https:\/\/ URL/);
  });
});
