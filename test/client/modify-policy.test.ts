// The SDK: createPolicyClient over both protocols, and modifyPolicy's read-modify-write loop under contention, with
// bounded retries that only ABORTED triggers.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, test } from "vitest";
import { PolicySchema, type Policy } from "../../gen/policy/v1/policy_pb.js";
import { PolicyService } from "../../gen/policy/v1/policy_service_pb.js";
import {
  BindingSchema,
  createPolicyClient,
  modifyPolicy,
  MODIFY_POLICY_DEFAULTS,
  type PolicyClient,
} from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
let grpc: PolicyClient;
let connect: PolicyClient;

/** Counts calls per method name, e.g. { GetPolicy: 1, SetPolicy: 1 }. */
function counter(): { counts: Record<string, number>; interceptor: Interceptor } {
  const counts: Record<string, number> = {};
  return {
    counts,
    interceptor: (next) => (req) => {
      counts[req.method.name] = (counts[req.method.name] ?? 0) + 1;
      return next(req);
    },
  };
}

beforeAll(async () => {
  server = await startTestServer();
  grpc = createPolicyClient({ baseUrl: server.url });
  connect = createPolicyClient({ baseUrl: server.url, protocol: "connect" });
  await grpc.resources.createResource({ resource: { name: "organizations/acme" } });
  for (const id of ["cld_busy", "cld_mixed", "cld_bad", "cld_cond"]) {
    await grpc.resources.createResource({ resource: { name: `clouds/${id}`, parent: "organizations/acme" } });
  }
});
afterAll(async () => {
  grpc?.close();
  connect?.close();
  await server?.stop();
});

function addMember(role: string, member: string): (policy: Policy) => Policy {
  return (policy) => {
    const binding = policy.bindings.find((b) => b.role === role && !b.condition);
    if (binding) binding.members.push(member);
    else policy.bindings.push(create(BindingSchema, { role, members: [member] }));
    return policy;
  };
}

test("createPolicyClient: typed clients for the three services, over gRPC and the Connect protocol", async () => {
  for (const client of [grpc, connect]) {
    expect((await client.resources.getResource({ name: "organizations/acme" })).type).toBe("organization");
    expect((await client.policies.getPolicy({ resource: "organizations/acme" })).etag.length).toBeGreaterThan(0);
    const check = await client.access.checkAccess({
      resource: "clouds/cld_busy",
      principals: ["user:nobody@example.com"],
      permissions: ["clouds.get"],
    });
    expect(check.grantedPermissions).toEqual([]);
  }
});

test("a token is sent as `authorization: Bearer ...` on every call", async () => {
  const seen: (string | null)[] = [];
  const client = createPolicyClient({
    baseUrl: server.url,
    token: "s3cret",
    interceptors: [(next) => (req) => (seen.push(req.header.get("authorization")), next(req))],
  });
  try {
    await client.resources.getResource({ name: "organizations/acme" });
    await client.policies.getPolicy({ resource: "organizations/acme" });
  } finally {
    client.close();
  }
  expect(seen).toEqual(["Bearer s3cret", "Bearer s3cret"]);
});

test("10 concurrent modifyPolicy calls each adding one member: nothing is lost, and conflicts were retried", async () => {
  const members = Array.from({ length: 10 }, (_, i) => `user:writer${i}@example.com`);
  // Every writer reads before any writes (a barrier in the first attempt), so 9 of them must see ABORTED.
  let waiting = members.length;
  let release!: () => void;
  const allRead = new Promise<void>((resolve) => (release = resolve));
  let retries = 0;
  const stored = await Promise.all(
    members.map((member, i) => {
      let first = true;
      return modifyPolicy(
        i % 2 === 0 ? grpc : connect.policies,
        "clouds/cld_busy",
        async (policy) => {
          if (first) {
            first = false;
            if (--waiting === 0) release();
            await allRead;
          }
          return addMember("roles/readonly", member)(policy);
        },
        { onRetry: () => void retries++ },
      );
    }),
  );
  expect(retries).toBeGreaterThanOrEqual(9);
  const final = await grpc.policies.getPolicy({ resource: "clouds/cld_busy" });
  expect(final.bindings.map((b) => [b.role, b.members])).toEqual([["roles/readonly", [...members].sort()]]);
  // Each call returned the policy it stored, with its own member in it.
  stored.forEach((p, i) => expect(p.bindings[0]?.members).toContain(members[i]));
  expect(stored.map((p) => Buffer.from(p.etag).toString("hex"))).toContain(Buffer.from(final.etag).toString("hex"));
});

test("modifyPolicy reads version 3 and writes with the etag it read: conditional bindings survive", async () => {
  await grpc.policies.setPolicy({
    resource: "clouds/cld_cond",
    policy: {
      version: 3,
      bindings: [
        { role: "roles/readonly", members: ["user:a@example.com"], condition: { expression: "request.time < timestamp(\"2030-01-01T00:00:00Z\")", title: "t" } },
      ],
    },
  });
  const seen: Policy[] = [];
  const stored = await modifyPolicy(grpc, "clouds/cld_cond", (p) => (seen.push(p), addMember("roles/collaborator", "user:b@example.com")(p)));
  expect(seen[0]?.version).toBe(3);
  expect(seen[0]?.bindings[0]?.condition?.title).toBe("t");
  expect(stored.version).toBe(3);
  expect(stored.bindings.map((b) => b.role)).toEqual(["roles/collaborator", "roles/readonly"]);
});

test("a non-ABORTED error is not retried: it propagates after one read and one write", async () => {
  const { counts, interceptor } = counter();
  const client = createPolicyClient({ baseUrl: server.url, interceptors: [interceptor] });
  try {
    const error = await modifyPolicy(client, "clouds/cld_bad", addMember("roles/owner", "user:a@example.com")).then(
      () => expect.fail("expected INVALID_ARGUMENT"),
      (e: unknown) => ConnectError.from(e),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(counts).toEqual({ GetPolicy: 1, SetPolicy: 1 });

    // An error thrown by the modifier stops the loop before anything is written.
    const thrown = new Error("no thanks");
    await expect(modifyPolicy(client, "clouds/cld_bad", () => Promise.reject(thrown))).rejects.toBe(thrown);
    expect(counts).toEqual({ GetPolicy: 2, SetPolicy: 1 });

    // NOT_FOUND from the read is not retried either.
    await expect(modifyPolicy(client, "clouds/cld_ghost", (p) => p)).rejects.toMatchObject({ code: Code.NotFound });
    expect(counts).toEqual({ GetPolicy: 3, SetPolicy: 1 });
  } finally {
    client.close();
  }
});

/** A PolicyService whose SetPolicy always fails with `code`; counts the reads. */
function alwaysFailing(code: Code) {
  const calls = { get: 0, set: 0 };
  const transport = createRouterTransport(({ service }) =>
    service(PolicyService, {
      getPolicy: () => {
        calls.get++;
        return create(PolicySchema, { etag: new Uint8Array([calls.get]) });
      },
      setPolicy: (req) => {
        calls.set++;
        expect(req.policy?.etag).toEqual(new Uint8Array([calls.get]));
        expect(req.policy?.version).toBe(3);
        throw new ConnectError("the policy was changed by another writer", code);
      },
    }),
  );
  return { calls, client: createClient(PolicyService, transport) };
}

test("retries are bounded: after maxAttempts ABORTED cycles the last ABORTED is thrown", async () => {
  const { calls, client } = alwaysFailing(Code.Aborted);
  const delays: number[] = [];
  const error = await modifyPolicy(client, "clouds/x", (p) => p, {
    maxAttempts: 5,
    baseDelayMs: 4,
    maxDelayMs: 10,
    onRetry: (_attempt, delay) => delays.push(delay),
  }).then(
    () => expect.fail("expected ABORTED"),
    (e: unknown) => ConnectError.from(e),
  );
  expect(error.code).toBe(Code.Aborted);
  expect(error.rawMessage).toMatch(/^gave up after 5 read-modify-write attempts on clouds\/x: /);
  expect(calls).toEqual({ get: 5, set: 5 });
  // Full jitter under an exponential ceiling capped at maxDelayMs: 4, 8, 10, 10.
  expect(delays).toHaveLength(4);
  [4, 8, 10, 10].forEach((ceiling, i) => {
    expect(delays[i]).toBeGreaterThanOrEqual(0);
    expect(delays[i]).toBeLessThanOrEqual(ceiling);
  });
});

test("the default bound is 10 attempts", async () => {
  expect(MODIFY_POLICY_DEFAULTS).toEqual({ maxAttempts: 10, baseDelayMs: 20, maxDelayMs: 1000 });
  const { calls, client } = alwaysFailing(Code.Aborted);
  await expect(modifyPolicy(client, "clouds/x", (p) => p, { baseDelayMs: 1, maxDelayMs: 1 })).rejects.toMatchObject({
    code: Code.Aborted,
  });
  expect(calls).toEqual({ get: 10, set: 10 });
});

test("FAILED_PRECONDITION from the write is not retried", async () => {
  const { calls, client } = alwaysFailing(Code.FailedPrecondition);
  await expect(modifyPolicy(client, "clouds/x", (p) => p)).rejects.toMatchObject({ code: Code.FailedPrecondition });
  expect(calls).toEqual({ get: 1, set: 1 });
});

test("an abort signal stops the wait between attempts", async () => {
  const { calls, client } = alwaysFailing(Code.Aborted);
  const controller = new AbortController();
  const pending = modifyPolicy(client, "clouds/x", (p) => p, {
    baseDelayMs: 60_000,
    maxDelayMs: 60_000,
    onRetry: () => controller.abort(),
    callOptions: { signal: controller.signal },
  });
  await expect(pending).rejects.toMatchObject({ code: Code.Canceled });
  expect(calls).toEqual({ get: 1, set: 1 });
});
