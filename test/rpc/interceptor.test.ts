// The auth interceptor at the RPC edge, without a server (in-process router transport, fast enough for mutation runs
// of src/rpc/auth/interceptor.ts): what a caller gets from each kind of method — a unary read or write, an
// administrators-only call, a server stream, a client stream, a method without a rule, a service outside the policy
// API — with authentication on, and in development mode. Each call says which code the caller sees, whether the
// handler ran (nothing reaches it unchecked), who the handler was told the caller is, and which reads were audited.
import { create, createFileRegistry } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import { FileDescriptorProtoSchema, MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import {
  Code,
  type ConnectRouter,
  createClient,
  createContextValues,
  createRouterTransport,
  type Interceptor,
  type StreamRequest,
  type Transport,
} from "@connectrpc/connect";
import { exportSPKI } from "jose";
import { readFileSync } from "node:fs";
import type { PeerCertificate } from "node:tls";
import { beforeAll, beforeEach, describe, expect, test } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { AuditLogConfig_LogType as LogType, PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { file_policy_v1_policy_service, type GetPolicyRequestSchema } from "../../gen/policy/v1/policy_service_pb.js";
import { Access } from "../../src/domain/access/access.js";
import { Authorizer } from "../../src/domain/access/authorizer.js";
import { Authenticator } from "../../src/rpc/auth/authenticator.js";
import { AUTHORIZATION_RULES, rule } from "../../src/rpc/auth/authorization-rules.js";
import { authInterceptor } from "../../src/rpc/auth/interceptor.js";
import { toConnectError } from "../../src/rpc/connect-errors.js";
import { callerOf, peerCertificateKey } from "../../src/rpc/context.js";
import { readAuditInterceptor } from "../../src/rpc/read-audit.js";
import { parseSchema } from "../../src/schema/schema-loader.js";
import { ChainTree, ChainTreeStore } from "../helpers/chain-tree.js";
import { expectCode } from "../helpers/call-failures.js";
import { capturingLogger, signingKey, tokenFor, type SigningKey } from "../helpers/secure-server.js";

const schema = parseSchema(readFileSync("schema/default.yaml", "utf8"), "default.yaml");

// A service of the policy API as protoc-gen-es would generate it, one method of each kind the interceptor tells apart.
const edgeFile = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "policy/test/edge.proto",
    package: "policy.test",
    dependency: ["policy/v1/policy_service.proto", "policy/v1/policy.proto"],
    syntax: "proto3",
    service: [
      {
        name: "EdgeService",
        method: [
          // A read: its rule names the resource (read-audited).
          {
            name: "Get",
            inputType: ".policy.v1.GetPolicyRequest",
            outputType: ".policy.v1.Policy",
            options: { idempotencyLevel: MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS },
          },
          // A write whose rule names no resource.
          { name: "Set", inputType: ".policy.v1.GetPolicyRequest", outputType: ".policy.v1.Policy" },
          // Only the server's administrators.
          { name: "Admin", inputType: ".policy.v1.GetPolicyRequest", outputType: ".policy.v1.Policy" },
          {
            name: "Watch",
            inputType: ".policy.v1.GetPolicyRequest",
            outputType: ".policy.v1.Policy",
            serverStreaming: true,
            options: { idempotencyLevel: MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS },
          },
          // A client stream, even with a rule in the table, is refused: one pass cannot cover messages not yet sent.
          { name: "Upload", inputType: ".policy.v1.GetPolicyRequest", outputType: ".policy.v1.Policy", clientStreaming: true },
          { name: "Unruled", inputType: ".policy.v1.GetPolicyRequest", outputType: ".policy.v1.Policy" },
        ],
      },
    ],
  }),
  (name) =>
    name === "policy/v1/policy_service.proto"
      ? file_policy_v1_policy_service
      : file_policy_v1_policy_service.dependencies.find((d) => d.proto.name === name),
).getFile("policy/test/edge.proto")!;

type Method<K extends string> = { methodKind: K; input: typeof GetPolicyRequestSchema; output: typeof PolicySchema };
const EdgeService = edgeFile.services[0] as GenService<{
  get: Method<"unary">;
  set: Method<"unary">;
  admin: Method<"unary">;
  watch: Method<"server_streaming">;
  upload: Method<"client_streaming">;
  unruled: Method<"unary">;
}>;

const RULES = new Map([
  ...AUTHORIZATION_RULES,
  rule(EdgeService.method.get, {
    resource: (req) => req.resource,
    authorize: (req, c) => c.require(req.resource, "projects.getPolicy"),
  }),
  rule(EdgeService.method.set, { authorize: (req, c) => c.require(req.resource, "projects.setPolicy") }),
  rule(EdgeService.method.admin, { authorize: (_req, c) => c.requireAdmin("do this") }),
  rule(EdgeService.method.watch, {
    resource: (req) => req.resource,
    authorize: (req, c) => c.require(req.resource, "projects.getPolicy"),
  }),
  // Not constructible through rule() (client streams cannot have one): the interceptor must refuse it anyway.
  [EdgeService.method.upload, { resource: (req: { resource: string }) => req.resource, authorize: () => undefined }] as [
    (typeof EdgeService.method)["upload"],
    never,
  ],
]);

// What the call interceptor does for every call: failures as ConnectErrors (an unexpected one is INTERNAL).
const asConnectErrors: Interceptor = (next) => async (req) => {
  try {
    return await next(req);
  } catch (e) {
    throw toConnectError(e, () => undefined);
  }
};

const ADMIN = "root@example.com";
const OWNER = "owner@example.com";
const READER = "reader@example.com";
const PROJECT = "projects/p1";
/** A service account with a client certificate (its CN), one of the administrators. */
const SERVICE = "deployer@acme.example.com";

function tree(): ChainTree {
  const tree = new ChainTree(schema);
  tree.putResource("organizations/acme", "", "organization");
  tree.putResource(PROJECT, "organizations/acme", "project");
  tree.setPolicy(
    "organizations/acme",
    create(PolicySchema, { auditConfigs: [{ service: "allServices", auditLogConfigs: [{ logType: LogType.ADMIN_READ }] }] }),
  );
  tree.setPolicy(
    PROJECT,
    create(PolicySchema, {
      bindings: [
        { role: "roles/owner", members: [`user:${OWNER}`] },
        { role: "roles/readonly", members: [`user:${READER}`] },
      ],
    }),
  );
  return tree;
}

interface Edge {
  transport: Transport;
  /** The handlers that ran: `method resource caller`. */
  ran: string[];
  audit: ReturnType<typeof capturingLogger>;
}

/**
 * The interceptors as the server orders them around a router with EdgeService and Health. `authenticated`: bearer
 * tokens signed by `key` and client certificates (a certificate is handed over as the TLS layer would, from the
 * `x-test-certificate-cn` header); otherwise development mode. Built per test: a mutation run counts what a test runs.
 */
async function edge(authenticated: { key: SigningKey } | undefined): Promise<Edge> {
  const ran: string[] = [];
  const audit = capturingLogger();
  const authenticator = authenticated
    ? await Authenticator.create({ publicKeys: [await exportSPKI(authenticated.key.publicKey)], groupsClaim: "groups" }, true)
    : await Authenticator.create(undefined, false);
  const access = new Access(new ChainTreeStore(tree()), schema);
  const authorizer = new Authorizer(access, schema, new Set([`user:${ADMIN}`, `serviceAccount:${SERVICE}`]), authenticated !== undefined);
  const tls: Interceptor = (next) => (req) => {
    const cn = req.header.get("x-test-certificate-cn");
    if (cn) req.contextValues.set(peerCertificateKey, { subject: { CN: cn } } as unknown as PeerCertificate);
    return next(req);
  };
  const interceptors = [asConnectErrors, tls, authInterceptor(authenticator, authorizer, schema, RULES), readAuditInterceptor(access, audit.logger)];
  const register = (router: ConnectRouter) => {
    const answer = (method: string) => (req: { resource: string }, ctx: Parameters<typeof callerOf>[0]) => {
      ran.push(`${method} ${req.resource} ${callerOf(ctx).principal}`);
      return create(PolicySchema, { version: 1 });
    };
    router.service(EdgeService, {
      get: answer("get"),
      set: answer("set"),
      admin: answer("admin"),
      async *watch(req, ctx) {
        ran.push(`watch ${req.resource} ${callerOf(ctx).principal}`);
        yield create(PolicySchema, { version: 1 });
        yield create(PolicySchema, { version: 3 });
      },
      async upload(reqs, ctx) {
        for await (const req of reqs) ran.push(`upload ${req.resource} ${callerOf(ctx).principal}`);
        return create(PolicySchema);
      },
      unruled: answer("unruled"),
    });
    router.service(Health, {
      check: (_req, ctx) => {
        ran.push(`health ${callerOf(ctx).principal}`);
        return { status: HealthCheckResponse_ServingStatus.SERVING };
      },
    });
  };
  return { transport: createRouterTransport(register, { router: { interceptors } }), ran, audit };
}

function clients(transport: Transport, headers: () => Promise<Record<string, string>>) {
  const client = createClient(EdgeService, transport);
  return {
    get: async (resource: string) => client.get({ resource }, { headers: await headers() }),
    set: async (resource: string) => client.set({ resource }, { headers: await headers() }),
    admin: async (resource: string) => client.admin({ resource }, { headers: await headers() }),
    watch: async (resource: string) => {
      const versions: number[] = [];
      for await (const policy of client.watch({ resource }, { headers: await headers() })) versions.push(policy.version);
      return versions;
    },
    upload: async (...resources: string[]) => {
      const h = await headers();
      async function* messages() {
        for (const resource of resources) yield { resource };
      }
      return client.upload(messages(), { headers: h });
    },
    unruled: async (resource: string) => client.unruled({ resource }, { headers: await headers() }),
    health: async () => (await createClient(Health, transport).check({}, { headers: await headers() })).status,
  };
}

const reads = (audit: Edge["audit"]) =>
  audit.lines.filter((l) => l.audit === "read").map((l) => `${l.procedure} ${l.resource} ${l.principal}`);

describe("with authentication on", () => {
  let key: SigningKey;
  let e: Edge;
  const as = (email: string) => clients(e.transport, async () => ({ authorization: `Bearer ${await tokenFor(key, email)}` }));
  const anonymous = () => clients(e.transport, async () => ({}));
  const certificate = (cn: string) => clients(e.transport, async () => ({ "x-test-certificate-cn": cn }));

  beforeAll(async () => {
    key = await signingKey("ES256");
  });
  beforeEach(async () => {
    e = await edge({ key });
  });

  test("a unary read: the holder of the permission gets it, the handler knows the caller, and the read is audited", async () => {
    expect((await as(OWNER).get(PROJECT)).version).toBe(1);
    expect(e.ran).toEqual([`get ${PROJECT} user:${OWNER}`]);
    expect(reads(e.audit)).toEqual([`policy.test.EdgeService/Get ${PROJECT} user:${OWNER}`]);
  });

  test("a unary call is refused before its handler runs: no credentials, no permission, a hidden or absent resource", async () => {
    await expectCode(anonymous().get(PROJECT), Code.Unauthenticated, /no credentials/);
    await expectCode(as(READER).set(PROJECT), Code.PermissionDenied, /lacks permission "projects.setPolicy"/);
    await expectCode(as("eve@example.com").get(PROJECT), Code.NotFound);
    await expectCode(as(OWNER).get("projects/absent"), Code.NotFound);
    expect(e.ran).toEqual([]);
    expect(reads(e.audit)).toEqual([]);
  });

  test("a write whose rule names no resource runs for the holder of its permission, and is not audited as a read", async () => {
    await as(OWNER).set(PROJECT);
    expect(e.ran).toEqual([`set ${PROJECT} user:${OWNER}`]);
    expect(reads(e.audit)).toEqual([]);
  });

  test("a client certificate the TLS layer verified authenticates the call", async () => {
    await certificate(SERVICE).admin(PROJECT);
    await expectCode(certificate("builder@acme.example.com").admin(PROJECT), Code.PermissionDenied, /only the server's administrators may do this/);
    expect(e.ran).toEqual([`admin ${PROJECT} serviceAccount:${SERVICE}`]);
  });

  test("an administrators-only call: the administrator passes, an owner of everything else is refused", async () => {
    await as(ADMIN).admin(PROJECT);
    await expectCode(as(OWNER).admin(PROJECT), Code.PermissionDenied, /only the server's administrators may do this/);
    expect(e.ran).toEqual([`admin ${PROJECT} user:${ADMIN}`]);
  });

  test("a server stream is authorized on its request, which reaches the handler; it is audited as a read", async () => {
    expect(await as(OWNER).watch(PROJECT)).toEqual([1, 3]);
    await expectCode(as(READER).watch(PROJECT), Code.PermissionDenied, /lacks permission "projects.getPolicy"/);
    await expectCode(as("eve@example.com").watch(PROJECT), Code.NotFound);
    await expectCode(anonymous().watch(PROJECT), Code.Unauthenticated);
    expect(e.ran).toEqual([`watch ${PROJECT} user:${OWNER}`]);
    expect(reads(e.audit)).toEqual([`policy.test.EdgeService/Watch ${PROJECT} user:${OWNER}`]);
  });

  test("a client stream is refused, even with a rule, whoever calls; so is a method without a rule", async () => {
    await expectCode(as(ADMIN).upload(PROJECT, PROJECT), Code.PermissionDenied, /no authorization rule for policy\.test\.EdgeService\/Upload/);
    await expectCode(as(OWNER).unruled(PROJECT), Code.PermissionDenied, /no authorization rule for policy\.test\.EdgeService\/Unruled/);
    await expectCode(as(ADMIN).unruled(PROJECT), Code.PermissionDenied, /no authorization rule/);
    expect(e.ran).toEqual([]);
  });

  test("a service outside the policy API (health) needs no credentials", async () => {
    expect(await anonymous().health()).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect(e.ran).toEqual(["health anonymous"]);
  });
});

describe("in development mode", () => {
  let e: Edge;
  const anyone = () => clients(e.transport, async () => ({}));
  beforeEach(async () => {
    e = await edge(undefined);
  });

  test("every ruled call runs, as anonymous, and reads are audited with their resource", async () => {
    await anyone().get(PROJECT);
    await anyone().set(PROJECT);
    await anyone().admin(PROJECT);
    expect(await anyone().watch(PROJECT)).toEqual([1, 3]);
    expect(e.ran).toEqual([`get ${PROJECT} anonymous`, `set ${PROJECT} anonymous`, `admin ${PROJECT} anonymous`, `watch ${PROJECT} anonymous`]);
    expect(reads(e.audit)).toEqual([`policy.test.EdgeService/Get ${PROJECT} anonymous`, `policy.test.EdgeService/Watch ${PROJECT} anonymous`]);
  });

  test("a method without a rule and a client stream are still refused (PERMISSION_DENIED, not an internal error)", async () => {
    await expectCode(anyone().unruled(PROJECT), Code.PermissionDenied, /no authorization rule for policy\.test\.EdgeService\/Unruled/);
    await expectCode(anyone().upload(PROJECT), Code.PermissionDenied, /no authorization rule for policy\.test\.EdgeService\/Upload/);
    expect(e.ran).toEqual([]);
  });

  test("health runs", async () => {
    expect(await anyone().health()).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect(e.ran).toEqual(["health anonymous"]);
  });
});

test("a server-streaming call that sends no request message is INVALID_ARGUMENT, and nothing runs", async () => {
  const key = await signingKey("ES256");
  const authenticator = await Authenticator.create({ publicKeys: [await exportSPKI(key.publicKey)], groupsClaim: "groups" }, false);
  const authorizer = new Authorizer(new Access(new ChainTreeStore(tree()), schema), schema, new Set(), true);
  const interceptor = authInterceptor(authenticator, authorizer, schema, RULES);
  const ran: string[] = [];
  const header = new Headers({ authorization: `Bearer ${await tokenFor(key, OWNER)}` });
  const req = {
    stream: true,
    service: EdgeService,
    method: EdgeService.method.watch,
    requestMethod: "POST",
    url: "http://127.0.0.1/policy.test.EdgeService/Watch",
    signal: new AbortController().signal,
    header,
    contextValues: createContextValues(),
    message: (async function* () {})(),
  } as unknown as StreamRequest;
  const call = interceptor(async (r) => {
    ran.push(r.method.name);
    throw new Error("unreachable");
  })(req);
  await expectCode(call, Code.InvalidArgument, /^a server-streaming call needs its request message$/);
  expect(ran).toEqual([]);
});

test("a server missing several rules refuses to start and names each method without one", async () => {
  const missing = new Set(["GetPolicy", "SetPolicy"]);
  const withoutTwo = new Map([...RULES].filter(([method]) => !(method.parent.typeName === "policy.v1.PolicyService" && missing.has(method.name))));
  const authenticator = await Authenticator.create(undefined, false);
  const authorizer = new Authorizer(new Access(new ChainTreeStore(tree()), schema), schema, new Set(), false);
  expect(() => authInterceptor(authenticator, authorizer, schema, withoutTwo)).toThrow(
    /^no authorization rule for policy\.v1\.PolicyService\/(GetPolicy, policy\.v1\.PolicyService\/SetPolicy|SetPolicy, policy\.v1\.PolicyService\/GetPolicy)$/,
  );
});
