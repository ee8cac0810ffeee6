// GET /metrics on the main port: Prometheus text whose counters, gauges and histograms move with the calls made on
// either port.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { apiClients, CALL_TIMEOUT_MS, expectCode, scrape, sum, uniqueId, type Exposition } from "./support.js";

const GET_POLICY = "policy.v1.PolicyService/GetPolicy";
const SET_POLICY = "policy.v1.PolicyService/SetPolicy";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.stop();
});

async function organization(): Promise<string> {
  const org = `organizations/${uniqueId("met")}`;
  await apiClients(server.url).resources.createResource({ resource: { name: org } });
  return org;
}

const exposition = async (): Promise<Exposition> => (await scrape(server.url)).exposition;

test("GET /metrics is Prometheus text with the service's metric families", async () => {
  await organization(); // at least one call has been observed
  const { contentType, exposition: e, text } = await scrape(server.url);
  expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  expect(text.endsWith("\n")).toBe(true);
  expect(e.types.get("policy_rpc_calls_total")).toBe("counter");
  expect(e.types.get("policy_rpc_duration_seconds")).toBe("histogram");
  expect(e.types.get("policy_store_bytes")).toBe("gauge");
  expect(e.types.get("policy_change_log_sequence")).toBe("gauge");
  // Every sample belongs to a declared family (histograms through their _bucket, _sum and _count series).
  for (const s of e.samples) {
    const family = s.name.replace(/_(bucket|sum|count)$/, "");
    expect(e.types.has(s.name) || e.types.has(family), s.name).toBe(true);
  }
  // Node's process metrics come along.
  expect(sum(e, "process_resident_memory_bytes")).toBeGreaterThan(0);
});

test("the call counter of GetPolicy rises by the calls made, on either port and by protocol", async () => {
  const org = await organization();
  const before = await exposition();
  await apiClients(server.url, "grpc").policies.getPolicy({ resource: org });
  await apiClients(server.url, "grpc").policies.getPolicy({ resource: org });
  await apiClients(server.url, "connect-h2").policies.getPolicy({ resource: org });
  await apiClients(`http://${server.grpcAddress}`, "grpc").policies.getPolicy({ resource: org });
  const after = await exposition();

  const delta = (labels: Record<string, string>) =>
    sum(after, "policy_rpc_calls_total", labels) - sum(before, "policy_rpc_calls_total", labels);
  expect(delta({ procedure: GET_POLICY, code: "OK" })).toBe(4);
  expect(delta({ procedure: GET_POLICY, code: "OK", protocol: "grpc" })).toBe(3);
  expect(delta({ procedure: GET_POLICY, code: "OK", protocol: "connect" })).toBe(1);
  expect(delta({ procedure: GET_POLICY, code: "NOT_FOUND" })).toBe(0);
});

test("a failed call is counted under its code", async () => {
  const before = await exposition();
  const missing = `projects/${uniqueId("missing")}`;
  await expectCode(apiClients(server.url).policies.getPolicy({ resource: missing }), Code.NotFound);
  await expectCode(apiClients(`http://${server.grpcAddress}`).policies.getPolicy({ resource: missing }), Code.NotFound);
  const org = await organization();
  await expectCode(
    apiClients(server.url, "connect-h2").policies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/owner", members: ["nobody"] }] } }),
    Code.InvalidArgument,
  );
  const after = await exposition();
  const delta = (labels: Record<string, string>) =>
    sum(after, "policy_rpc_calls_total", labels) - sum(before, "policy_rpc_calls_total", labels);
  expect(delta({ procedure: GET_POLICY, code: "NOT_FOUND" })).toBe(2);
  expect(delta({ procedure: GET_POLICY, code: "OK" })).toBe(0);
  expect(delta({ procedure: SET_POLICY, code: "INVALID_ARGUMENT", protocol: "connect" })).toBe(1);
});

test("the change-log sequence gauge rises after a write, and not after a read", async () => {
  const org = await organization();
  const before = sum(await exposition(), "policy_change_log_sequence");
  expect(before).toBeGreaterThan(0);
  await apiClients(server.url).policies.getPolicy({ resource: org });
  expect(sum(await exposition(), "policy_change_log_sequence")).toBe(before);
  await apiClients(`http://${server.grpcAddress}`).policies.setPolicy({
    resource: org,
    policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] },
  });
  expect(sum(await exposition(), "policy_change_log_sequence")).toBeGreaterThan(before);
});

test("the read cache gauges count what reads put in it", async () => {
  const org = await organization();
  await apiClients(server.url).policies.getPolicy({ resource: org });
  const e = await exposition();
  expect(e.types.get("policy_cache_entries")).toBe("gauge");
  expect(e.types.get("policy_cache_bytes")).toBe("gauge");
  expect(sum(e, "policy_cache_entries")).toBeGreaterThan(0);
  expect(sum(e, "policy_cache_bytes")).toBeGreaterThan(0);
  expect(sum(e, "policy_cache_bytes")).toBeLessThanOrEqual(64 * 1024 * 1024);
});

test("the store size gauge is positive", async () => {
  await organization();
  expect(sum(await exposition(), "policy_store_bytes")).toBeGreaterThan(0);
});

test("the latency histogram has cumulative buckets up to +Inf that count every call", async () => {
  const org = await organization();
  const before = await exposition();
  for (let i = 0; i < 5; i++) await apiClients(server.url).policies.getPolicy({ resource: org });
  const after = await exposition();
  const labels = { procedure: GET_POLICY, protocol: "grpc" };
  const buckets = after.samples.filter(
    (s) => s.name === "policy_rpc_duration_seconds_bucket" && s.labels.procedure === GET_POLICY && s.labels.protocol === "grpc",
  );
  expect(buckets.length).toBeGreaterThan(3);
  const bounds = buckets.map((b) => (b.labels.le === "+Inf" ? Infinity : Number(b.labels.le)));
  expect(bounds.every((b) => !Number.isNaN(b))).toBe(true);
  expect(bounds.at(-1)).toBe(Infinity);
  expect([...bounds].sort((a, b) => a - b)).toEqual(bounds);
  const counts = buckets.map((b) => b.value);
  for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]!);
  const count = sum(after, "policy_rpc_duration_seconds_count", labels);
  expect(counts.at(-1)).toBe(count);
  expect(count - sum(before, "policy_rpc_duration_seconds_count", labels)).toBe(5);
  expect(sum(after, "policy_rpc_duration_seconds_sum", labels)).toBeGreaterThan(sum(before, "policy_rpc_duration_seconds_sum", labels));
});

test("other paths are 404, and /metrics does not count as a call", async () => {
  const res = await fetch(`${server.url}/nope`, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
  expect(res.status).toBe(404);
  await res.text();
  const first = await exposition();
  const second = await exposition();
  expect(sum(second, "policy_rpc_calls_total")).toBe(sum(first, "policy_rpc_calls_total"));
});
