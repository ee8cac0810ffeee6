// `buf curl --schema proto`, as a person at a terminal uses it: gRPC over HTTP/2 (prior knowledge) and the Connect
// protocol over HTTP/1.1. Responses are protobuf JSON on stdout; errors are JSON on stderr with a non-zero exit.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { REPO_ROOT } from "../helpers/child-server.js";
import { uniqueId } from "./support.js";

const BUF = join(REPO_ROOT, "node_modules/.bin/buf");
const CALL_LIMIT_MS = 30_000;

let server: TestServer;
beforeAll(async () => (server = await startTestServer()));
afterAll(() => server?.stop());

const PROTOCOLS = {
  grpc: ["--protocol", "grpc", "--http2-prior-knowledge"],
  connect: ["--protocol", "connect"],
};
type Protocol = keyof typeof PROTOCOLS;

interface CurlResult {
  exitCode: number;
  json: any;
}

/** Runs `buf curl` for `method` (e.g. `PolicyService/GetPolicy`) with `body`; parses stdout, or stderr on failure. */
async function bufCurl(protocol: Protocol, method: string, body: unknown): Promise<CurlResult> {
  const args = ["curl", "--schema", "proto", ...PROTOCOLS[protocol], "-d", JSON.stringify(body), `${server.url}/policy.v1.${method}`];
  try {
    const { stdout } = await promisify(execFile)(BUF, args, { cwd: REPO_ROOT, timeout: CALL_LIMIT_MS });
    return { exitCode: 0, json: JSON.parse(stdout) };
  } catch (e) {
    const failed = e as { code?: number; stderr?: string; killed?: boolean };
    if (typeof failed.code !== "number" || failed.killed) throw e;
    return { exitCode: failed.code, json: JSON.parse(failed.stderr!) };
  }
}

describe.each(Object.keys(PROTOCOLS) as Protocol[])("buf curl --protocol %s", (protocol) => {
  test("creates a resource, sets its policy and gets it back", async () => {
    const org = `organizations/${uniqueId("org")}`;
    const created = await bufCurl(protocol, "ResourceService/CreateResource", { resource: { name: org } });
    expect(created).toMatchObject({ exitCode: 0, json: { name: org, type: "organization" } });

    const set = await bufCurl(protocol, "PolicyService/SetPolicy", {
      resource: org,
      policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] },
    });
    expect(set.exitCode).toBe(0);
    expect(set.json.etag).toEqual(expect.any(String));

    const got = await bufCurl(protocol, "PolicyService/GetPolicy", { resource: org });
    expect(got).toMatchObject({
      exitCode: 0,
      json: {
        version: 1,
        etag: set.json.etag,
        bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }],
        syncStatus: "SYNC_STATUS_SUCCESS",
      },
    });
  });

  test("a stale etag fails with code aborted", async () => {
    const org = `organizations/${uniqueId("org")}`;
    await bufCurl(protocol, "ResourceService/CreateResource", { resource: { name: org } });
    const { json: before } = await bufCurl(protocol, "PolicyService/GetPolicy", { resource: org });
    await bufCurl(protocol, "PolicyService/SetPolicy", { resource: org, policy: { bindings: [{ role: "roles/owner", members: ["allUsers"] }] } });

    const stale = await bufCurl(protocol, "PolicyService/SetPolicy", {
      resource: org,
      policy: { etag: before.etag, bindings: [{ role: "roles/owner", members: ["user:b@example.com"] }] },
    });
    expect(stale.exitCode).not.toBe(0);
    expect(stale.json).toMatchObject({ code: "aborted", message: expect.stringMatching(/read it again/) });
  });

  test("an invalid member fails with code invalid_argument and a google.rpc.BadRequest detail", async () => {
    const org = `organizations/${uniqueId("org")}`;
    await bufCurl(protocol, "ResourceService/CreateResource", { resource: { name: org } });
    const bad = await bufCurl(protocol, "PolicyService/SetPolicy", {
      resource: org,
      policy: { bindings: [{ role: "roles/owner", members: ["nobody"] }] },
    });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.json).toMatchObject({
      code: "invalid_argument",
      message: expect.stringContaining("policy.bindings[0].members[0]"),
      details: [expect.objectContaining({ type: "google.rpc.BadRequest" })],
    });
  });

  test("an unknown resource fails with code not_found", async () => {
    const missing = await bufCurl(protocol, "PolicyService/GetPolicy", { resource: `clouds/${uniqueId("missing")}` });
    expect(missing.exitCode).not.toBe(0);
    expect(missing.json.code).toBe("not_found");
  });
});
