// The call log of the real process: one JSON line per call on either port with procedure, protocol, code, duration
// and peer, and no policy contents (members, principals) anywhere in the output; writes and failures at info,
// successful reads at debug.
import { Code } from "@connectrpc/connect";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { apiClients, expectCode, spawnServer, tempDir, uniqueId, type ChildServer } from "./support.js";

let dir: string;
let child: ChildServer | undefined;
beforeAll(() => {
  dir = tempDir();
});
afterAll(async () => {
  await child?.stop("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** The JSON lines of `output`; other lines (the banner, the listening line) are skipped. */
function jsonLines(output: string): Record<string, unknown>[] {
  return output
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const SECRET_EMAILS = ["ada.secret@example.com", "bob.secret@example.com", "eve.secret@example.com", "carol.secret@example.com"];

test("at debug level: one JSON line per call, with procedure, protocol, code, ms and peer, and no policy contents", { timeout: 60_000 }, async () => {
  child = await spawnServer(join(dir, "debug.db"), ["--log-level", "debug"]);
  const main = apiClients(child.url, "grpc");
  const connect = apiClients(child.url, "connect-h2");
  const grpcWeb = apiClients(child.url, "grpc-web");
  const grpcPort = apiClients(`http://${child.grpcAddress}`, "grpc");
  const org = `organizations/${uniqueId("log")}`;

  const expected: [string, string, string][] = [];
  const made = (procedure: string, protocol: string, code = "OK") => expected.push([`policy.v1.${procedure}`, protocol, code]);

  await main.resources.createResource({ resource: { name: org } });
  made("ResourceService/CreateResource", "grpc");
  await main.policies.setPolicy({
    resource: org,
    policy: { bindings: [{ role: "roles/owner", members: [`user:${SECRET_EMAILS[0]}`, `user:${SECRET_EMAILS[1]}`] }] },
  });
  made("PolicyService/SetPolicy", "grpc");
  await connect.policies.getPolicy({ resource: org });
  made("PolicyService/GetPolicy", "connect");
  await grpcWeb.policies.getPolicy({ resource: org });
  made("PolicyService/GetPolicy", "grpc-web");
  await grpcPort.policies.getPolicy({ resource: org });
  made("PolicyService/GetPolicy", "grpc");
  const access = await grpcPort.access.checkAccess({
    resource: org,
    principals: [`user:${SECRET_EMAILS[0]}`],
    permissions: ["organizations.get"],
  });
  expect(access.grantedPermissions).toEqual(["organizations.get"]);
  made("AccessService/CheckAccess", "grpc");
  await expectCode(main.policies.getPolicy({ resource: `projects/${uniqueId("missing")}` }), Code.NotFound);
  made("PolicyService/GetPolicy", "grpc", "NOT_FOUND");
  await expectCode(
    grpcPort.policies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/owner", members: [`person:${SECRET_EMAILS[2]}`] }] } }),
    Code.InvalidArgument,
  );
  made("PolicyService/SetPolicy", "grpc", "INVALID_ARGUMENT");
  await expectCode(
    connect.policies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/nope", members: [`user:${SECRET_EMAILS[3]}`] }] } }),
    Code.InvalidArgument,
  );
  made("PolicyService/SetPolicy", "connect", "INVALID_ARGUMENT");

  expect(await child.stop("SIGTERM")).toBe(0);
  const output = child.stdout() + child.stderr();
  child = undefined;

  const calls = jsonLines(output).filter((l) => l.msg === "call" && typeof l.procedure === "string" && l.procedure.startsWith("policy.v1."));
  expect(calls.map((c) => [c.procedure, c.protocol, c.code]).sort()).toEqual([...expected].sort());
  const reads = new Set(["policy.v1.PolicyService/GetPolicy", "policy.v1.AccessService/CheckAccess"]);
  for (const c of calls) {
    // debug (20) for a successful read, info (30) for a write or a failure.
    expect([c.procedure, c.code, c.level]).toEqual([c.procedure, c.code, reads.has(c.procedure as string) && c.code === "OK" ? 20 : 30]);
    expect(typeof c.time).toBe("number");
    expect(typeof c.ms).toBe("number");
    expect(c.ms as number).toBeGreaterThanOrEqual(0);
    expect(c.peer).toMatch(/127\.0\.0\.1:\d+$/);
  }
  for (const email of SECRET_EMAILS) expect(output).not.toContain(email);
  expect(output).not.toContain("roles/owner");
});

test("at info level (the default) writes and failed calls are logged, successful reads are not", { timeout: 60_000 }, async () => {
  child = await spawnServer(join(dir, "info.db"));
  const org = `organizations/${uniqueId("log")}`;
  const grpcPort = apiClients(`http://${child.grpcAddress}`);
  await apiClients(child.url).resources.createResource({ resource: { name: org } });
  await grpcPort.policies.getPolicy({ resource: org });
  await apiClients(child.url, "connect-h2").policies.lookupEffectivePolicy({ resource: org });
  await expectCode(grpcPort.policies.getPolicy({ resource: `projects/${uniqueId("missing")}` }), Code.NotFound);
  expect(await child.stop("SIGTERM")).toBe(0);
  const calls = jsonLines(child.stdout()).filter((l) => l.msg === "call");
  child = undefined;
  expect(calls.map((c) => [c.procedure, c.code, c.level])).toEqual([
    ["policy.v1.ResourceService/CreateResource", "OK", 30],
    ["policy.v1.PolicyService/GetPolicy", "NOT_FOUND", 30],
  ]);
});

test("at warn level the calls are not logged", { timeout: 60_000 }, async () => {
  child = await spawnServer(join(dir, "warn.db"), ["--log-level", "warn"]);
  const org = `organizations/${uniqueId("log")}`;
  await apiClients(child.url).resources.createResource({ resource: { name: org } });
  await apiClients(`http://${child.grpcAddress}`).policies.getPolicy({ resource: org });
  expect(await child.stop("SIGTERM")).toBe(0);
  const lines = jsonLines(child.stdout());
  child = undefined;
  expect(lines.filter((l) => l.msg === "call")).toEqual([]);
  expect(lines.every((l) => (l.level as number) >= 40)).toBe(true);
});
