// One authorization pass per call, from the rule table keyed by the generated method descriptors: every method of
// the API has a rule, a method without one is refused, and a server-streaming call is authorized on its request
// message, which still reaches the handler (and its reads are audited). There is no streaming RPC in proto/ yet, so
// a small service made here stands in for one.
import { create, createFileRegistry } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import { FileDescriptorProtoSchema, MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, createClient, createRouterTransport, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { exportSPKI } from "jose";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AuditLogConfig_LogType as LogType, PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { file_policy_v1_policy_service, type GetPolicyRequestSchema } from "../../gen/policy/v1/policy_service_pb.js";
import { Access } from "../../src/domain/access/access.js";
import { Authorizer } from "../../src/domain/access/authorizer.js";
import { parseSchema } from "../../src/schema/schema-loader.js";
import { Authenticator } from "../../src/rpc/auth/authenticator.js";
import { authInterceptor } from "../../src/rpc/auth/interceptor.js";
import { AUTHORIZATION_RULES, methodsWithoutAuthorizationRule, rule } from "../../src/rpc/auth/authorization-rules.js";
import { toConnectError } from "../../src/rpc/connect-errors.js";
import { readAuditInterceptor } from "../../src/rpc/read-audit.js";
import { createGrpcJsServer } from "../../src/rpc/grpc-js-server.js";
import { API_SERVICES } from "../../src/api-services.js";
import type { ServiceRegistry } from "../../src/rpc/routes.js";
import { ChainTree, ChainTreeStore } from "../helpers/chain-tree.js";
import { expectCode } from "../helpers/call-failures.js";
import { capturingLogger, signingKey, tokenFor, type SigningKey } from "../helpers/secure-server.js";

const schema = parseSchema(readFileSync("schema/default.yaml", "utf8"), "default.yaml");

describe("the rule table", () => {
  test("every method of every policy.v1 service has a rule", () => {
    const methods = API_SERVICES.flatMap((s) => s.methods.map((m) => `${s.typeName}/${m.name}`));
    expect(methods.length).toBeGreaterThan(10);
    expect(methodsWithoutAuthorizationRule(API_SERVICES)).toEqual([]);
    for (const service of API_SERVICES) {
      for (const method of service.methods) expect(AUTHORIZATION_RULES.has(method), `${service.typeName}/${method.name}`).toBe(true);
    }
  });

  test("every read names the resource whose audit configs decide whether it is logged", () => {
    const reads = API_SERVICES.flatMap((s) => s.methods).filter(
      (m) => m.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS,
    );
    expect(reads.length).toBeGreaterThan(5);
    for (const method of reads) expect(AUTHORIZATION_RULES.get(method)?.resource, method.name).toBeTypeOf("function");
  });

  test("the server refuses to start when a method of the API has no rule", async () => {
    const withoutOne = new Map([...AUTHORIZATION_RULES].filter(([method]) => method.name !== "GetPolicy"));
    const authenticator = await Authenticator.create(undefined, false);
    const authorizer = new Authorizer(new Access(new ChainTreeStore(new ChainTree(schema)), schema), schema, new Set(), false);
    expect(() => authInterceptor(authenticator, authorizer, schema, withoutOne)).toThrow(
      "no authorization rule for policy.v1.PolicyService/GetPolicy",
    );
  });
});

// A service of the policy API as protoc-gen-es would generate it: Watch streams the policy of a resource (a read),
// Unruled has no rule.
const watchFile = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "policy/test/watch.proto",
    package: "policy.test",
    dependency: ["policy/v1/policy_service.proto", "policy/v1/policy.proto"],
    syntax: "proto3",
    service: [
      {
        name: "WatchService",
        method: [
          {
            name: "Watch",
            inputType: ".policy.v1.GetPolicyRequest",
            outputType: ".policy.v1.Policy",
            serverStreaming: true,
            options: { idempotencyLevel: MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS },
          },
          { name: "Unruled", inputType: ".policy.v1.GetPolicyRequest", outputType: ".policy.v1.Policy" },
        ],
      },
    ],
  }),
  (name) =>
    name === "policy/v1/policy_service.proto"
      ? file_policy_v1_policy_service
      : file_policy_v1_policy_service.dependencies.find((d) => d.proto.name === name),
).getFile("policy/test/watch.proto")!;

const WatchService = watchFile.services[0] as GenService<{
  watch: { methodKind: "server_streaming"; input: typeof GetPolicyRequestSchema; output: typeof PolicySchema };
  unruled: { methodKind: "unary"; input: typeof GetPolicyRequestSchema; output: typeof PolicySchema };
}>;

// What the call interceptor does for every call: failures as ConnectErrors.
const asConnectErrors: Interceptor = (next) => async (req) => {
  try {
    return await next(req);
  } catch (e) {
    throw toConnectError(e, (cause) => {
      throw cause;
    });
  }
};

const OWNER = "owner@example.com";
const READER = "reader@example.com";
const PROJECT = "projects/p1";

const TRANSPORTS = ["router", "grpc-js"] as const;

describe.each(TRANSPORTS)("a server-streaming call (%s)", (via) => {
  let key: SigningKey;
  let transport: Transport;
  let grpcServer: grpc.Server | undefined;
  const watched: string[] = [];
  const unruled: string[] = [];
  const audit = capturingLogger();

  beforeAll(async () => {
    key = await signingKey("ES256");
    const authenticator = await Authenticator.create({ publicKeys: [await exportSPKI(key.publicKey)], groupsClaim: "groups" }, false);
    const tree = new ChainTree(schema);
    tree.putResource("organizations/acme", "", "organization");
    tree.putResource(PROJECT, "organizations/acme", "project");
    tree.setPolicy(
      "organizations/acme",
      create(PolicySchema, {
        auditConfigs: [{ service: "allServices", auditLogConfigs: [{ logType: LogType.ADMIN_READ }] }],
      }),
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
    const access = new Access(new ChainTreeStore(tree), schema);
    const authorizer = new Authorizer(access, schema, new Set(), true);
    const watchRule = rule(WatchService.method.watch, {
      resource: (req) => req.resource,
      authorize: (req, c) => c.require(req.resource, "projects.getPolicy"),
    });
    const interceptors = [
      asConnectErrors,
      authInterceptor(authenticator, authorizer, schema, new Map([...AUTHORIZATION_RULES, watchRule])),
      readAuditInterceptor(access, audit.logger),
    ];
    const register = (router: ServiceRegistry) =>
      router.service(WatchService, {
        async *watch(req) {
          watched.push(req.resource);
          yield create(PolicySchema, { version: 1 });
          yield create(PolicySchema, { version: 3 });
        },
        unruled(req) {
          unruled.push(req.resource);
          return create(PolicySchema);
        },
      });
    if (via === "router") {
      transport = createRouterTransport(register, { router: { interceptors } });
      return;
    }
    const server = createGrpcJsServer(register, { interceptors, readMaxBytes: 1 << 20, unexpected: () => undefined });
    grpcServer = server;
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
  });

  afterAll(() => {
    grpcServer?.forceShutdown();
  });

  function clientAs(email: string) {
    const client = createClient(WatchService, transport);
    const headers = async () => ({ authorization: `Bearer ${await tokenFor(key, email)}` });
    return {
      watch: async (resource: string) => {
        const versions: number[] = [];
        for await (const policy of client.watch({ resource }, { headers: await headers() })) versions.push(policy.version);
        return versions;
      },
      unruled: async (resource: string) => client.unruled({ resource }, { headers: await headers() }),
    };
  }

  test("is authorized on its request message, which still reaches the handler", async () => {
    watched.length = 0;
    expect(await clientAs(OWNER).watch(PROJECT)).toEqual([1, 3]);
    expect(watched).toEqual([PROJECT]);
  });

  test("is refused before the handler runs when the caller lacks the permission, or may not see the resource", async () => {
    watched.length = 0;
    await expectCode(clientAs(READER).watch(PROJECT), Code.PermissionDenied, /lacks permission "projects.getPolicy"/);
    await expectCode(clientAs("eve@example.com").watch(PROJECT), Code.NotFound);
    await expectCode(clientAs(OWNER).watch("projects/absent"), Code.NotFound);
    expect(watched).toEqual([]);
  });

  test("a read is audited once, as the audit configs up its resource's chain ask", async () => {
    audit.lines.length = 0;
    await clientAs(OWNER).watch(PROJECT);
    expect(audit.lines.filter((l) => l.audit === "read")).toEqual([
      expect.objectContaining({
        logType: "ADMIN_READ",
        principal: `user:${OWNER}`,
        procedure: "policy.test.WatchService/Watch",
        resource: PROJECT,
      }),
    ]);
  });

  test("a method of the policy API without a rule is refused, whoever calls", async () => {
    unruled.length = 0;
    await expectCode(clientAs(OWNER).unruled(PROJECT), Code.PermissionDenied, /no authorization rule for policy\.test\.WatchService\/Unruled/);
    expect(unruled).toEqual([]);
  });
});
