// Fuzz: random and malformed bodies (random bytes as Connect protobuf and as gRPC frames, random JSON values, malformed
// JSON text, and bodies shaped like each request with wrong values) POSTed to every RPC of the policy.v1 API on a
// development-mode server on loopback that holds data. The server answers every request in time, never with
// INTERNAL/UNKNOWN or an HTTP 5xx, never with a stack trace or SQL in the message, still answers health checks
// afterwards, and its data is byte-identical afterwards.
//
// Why no write can be valid here: every existing resource has an unguessable id, and the names the generators put
// into write requests are invalid, or absent resources that cannot be created (a cloud or project under an absent
// parent); only read-only methods (NO_SIDE_EFFECTS) are sent real names. Random bytes and random JSON cannot spell a
// valid resource name by chance. The final comparison covers every resource, policy and audit entry anyway.
import { ScalarType, create, fromJson, toBinary, type DescMethod, type JsonValue } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { randomBytes } from "node:crypto";
import http2 from "node:http2";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { AccessService } from "../../gen/policy/v1/access_service_pb.js";
import { AuditService } from "../../gen/policy/v1/audit_service_pb.js";
import { PolicyService } from "../../gen/policy/v1/policy_service_pb.js";
import { ResourceService } from "../../gen/policy/v1/resource_service_pb.js";
import { apiClients, binding, snapshot, startSecureServer, type ApiClients, type SecureServer } from "../helpers/secure-server.js";

/** Every request must be answered within this. */
const ANSWER_TIMEOUT_MS = 5_000;

const METHODS: DescMethod[] = [PolicyService, ResourceService, AccessService, AuditService].flatMap((s) => s.methods);
const PATHS = METHODS.map((m) => `/${m.parent.typeName}/${m.name}`);
const isRead = (m: DescMethod) => m.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;

let server: SecureServer;
let admin: ApiClients;
let before: string[];
/** The names of the stored resources (unguessable ids). */
let real: string[];

// Codes that would mean the server failed rather than the request: never acceptable.
const SERVER_FAULTS = new Set(["internal", "unknown", "data_loss", "unavailable", "unimplemented"]);
/** What no error message may carry: a stack frame, SQL, a file path of the server. */
const LEAKS = /\n\s+at |\bSELECT\b|\bINSERT\b|\bUPDATE\s+\w+\s+SET\b|SQLITE|sqlite|\/src\/|node_modules/;

beforeAll(async () => {
  server = await startSecureServer({});
  admin = apiClients(server.url);
  const id = () => `fz${randomBytes(12).toString("hex")}`;
  const org = `organizations/${id()}`;
  const cloud = `clouds/${id()}`;
  const project = `projects/${id()}`;
  const other = `projects/${id()}`;
  real = [org, cloud, project, other];
  await admin.resources.createResource({ resource: { name: org, displayName: "Fuzz Org" } });
  await admin.resources.createResource({ resource: { name: cloud, parent: org } });
  await admin.resources.createResource({ resource: { name: project, parent: cloud } });
  await admin.resources.createResource({ resource: { name: other, parent: org } });
  await admin.policies.setPolicy({ resource: org, policy: { bindings: [binding("roles/owner", "user:ada@example.com", "group:ug_ops")] } });
  await admin.policies.setPolicy({
    resource: project,
    policy: {
      version: 3,
      bindings: [
        binding("roles/readonly", "allAuthenticatedUsers"),
        { role: "roles/collaborator", members: ["user:bob@example.com"], condition: { expression: 'request.time < timestamp("2100-01-01T00:00:00Z")', title: "until 2100" } },
      ],
      auditConfigs: [{ service: "allServices", auditLogConfigs: [{ logType: 3, exemptedMembers: ["user:ada@example.com"] }] }],
    },
    updateMask: { paths: ["bindings", "audit_configs"] },
  });
  before = await snapshot(admin);
  expect(before.length).toBe(12);
});

afterAll(async () => {
  await server?.stop();
});

// ---------------------------------------------------------------------------------------------------------------------
// Senders

interface Answer {
  /** The RPC status: a Connect code name ("invalid_argument"), or "ok". */
  code: string;
  message: string;
  transport: string;
  /** The HTTP status, for the Connect protocol. */
  http?: number;
}

const tally = new Map<string, number>();
function count(answer: Answer): Answer {
  const key = `${answer.transport} ${answer.code}`;
  tally.set(key, (tally.get(key) ?? 0) + 1);
  return answer;
}

/** POST over HTTP/1.1 with the Connect protocol (unary): the HTTP status and, on error, the JSON error's code. */
async function connectPost(path: string, body: Uint8Array | string, contentType: string): Promise<Answer> {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": contentType, "connect-protocol-version": "1" },
    body: typeof body === "string" ? body : Buffer.from(body),
    signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
  });
  const text = await res.text();
  if (res.status === 200) return count({ code: "ok", message: "", transport: "connect", http: 200 });
  let error: { code?: string; message?: string } = {};
  try {
    error = JSON.parse(text) as typeof error;
  } catch {
    // e.g. 415 for an unsupported content type has no JSON body
  }
  return count({ code: error.code ?? `http ${res.status}`, message: error.message ?? text, transport: "connect", http: res.status });
}

const sessions = new Map<string, http2.ClientHttp2Session>();
function session(authority: string): http2.ClientHttp2Session {
  let s = sessions.get(authority);
  if (!s || s.closed || s.destroyed) {
    s = http2.connect(authority);
    s.on("error", () => undefined);
    sessions.set(authority, s);
  }
  return s;
}
afterAll(() => {
  for (const s of sessions.values()) s.close();
});

/** POST a raw gRPC body (already framed, or deliberately not) over HTTP/2 with prior knowledge. */
function grpcPost(authority: string, path: string, body: Uint8Array, transport: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session(authority).request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc+proto",
      te: "trailers",
      ...headers,
    });
    const timer = setTimeout(() => {
      req.close(http2.constants.NGHTTP2_CANCEL);
      reject(new Error(`${transport} ${path}: no answer within ${ANSWER_TIMEOUT_MS} ms`));
    }, ANSWER_TIMEOUT_MS);
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    req.on("response", (h) => (head = h));
    req.on("trailers", (t) => (trailers = t));
    req.on("data", () => undefined);
    req.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on("close", () => {
      clearTimeout(timer);
      const status = String(trailers["grpc-status"] ?? head["grpc-status"] ?? "");
      const message = decodeURIComponent(String(trailers["grpc-message"] ?? head["grpc-message"] ?? ""));
      if (Number(head[":status"]) >= 500 || status === "") {
        resolve(count({ code: `http ${head[":status"]} grpc-status ${status || "none"}`, message, transport }));
        return;
      }
      resolve(count({ code: GRPC_CODE_NAMES[Number(status)] ?? `grpc ${status}`, message, transport }));
    });
    req.end(Buffer.from(body));
  });
}

const GRPC_CODE_NAMES = [
  "ok", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists", "permission_denied",
  "resource_exhausted", "failed_precondition", "aborted", "out_of_range", "unimplemented", "internal", "unavailable",
  "data_loss", "unauthenticated",
];

/** A gRPC length-prefixed message: flag byte, 4-byte big-endian length, payload. */
function frame(payload: Uint8Array, flag = 0, declaredLength = payload.length): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flag;
  new DataView(out.buffer).setUint32(1, declaredLength >>> 0);
  out.set(payload, 5);
  return out;
}

/**
 * Statuses the transport libraries generate themselves for a body they cannot read, before any code of this service
 * runs, as gRPC's status-code table (grpc/grpc doc/statuscodes.md) prescribes: "Request cardinality violation:
 * UNIMPLEMENTED". (An undecodable request message is INVALID_ARGUMENT on both ports, as grpc-go and grpc-java answer
 * it: see src/rpc/undecodable.ts.) Each is matched exactly, on its own transport; anything else is a failure.
 */
const LIBRARY_STATUSES: { transport: RegExp; code: string; message: RegExp }[] = [
  { transport: /^grpc main$/, code: "internal", message: /^received compressed envelope, but do not know how to decompress$/ },
  { transport: /^grpc main$/, code: "unimplemented", message: /^protocol error: (missing input message|received extra input message) for unary method$/ },
  { transport: /^grpc port$/, code: "unimplemented", message: /^Received (no|a second) request message for server streaming method \/policy\.v1\.\w+\/\w+$/ },
];
const libraryStatuses = new Map<string, number>();

function expectHealthy(answer: Answer, where: string): void {
  const known = LIBRARY_STATUSES.find((k) => k.transport.test(answer.transport) && k.code === answer.code && k.message.test(answer.message));
  if (known) {
    libraryStatuses.set(`${answer.transport} ${answer.code}`, (libraryStatuses.get(`${answer.transport} ${answer.code}`) ?? 0) + 1);
    return;
  }
  const fault =
    SERVER_FAULTS.has(answer.code) ||
    answer.code.startsWith("grpc ") ||
    (answer.code.startsWith("http ") && !/^http 4\d\d$/.test(answer.code)) ||
    (answer.http ?? 200) >= 500;
  expect(fault, `${where}: ${answer.transport} ${answer.code} ${answer.message}`).toBe(false);
  expect(answer.message, where).not.toMatch(LEAKS);
}

// ---------------------------------------------------------------------------------------------------------------------
// Generators

/** Names that cannot refer to a stored resource, nor be created: invalid, or a cloud/project whose parent is absent. */
const absentOrInvalidName = fc.oneof(
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom("", "/", "organizations/", "organizations//x", "clouds/../x", "projects/a b", "projects/\u0000", "x".repeat(300)) },
  { weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9_.-]{1,20}$/).map((id) => `clouds/zz-absent-${id}`) },
  { weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9_.-]{1,20}$/).map((id) => `projects/zz-absent-${id}`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((id) => `projects/${id}`) },
);

/** Scalar and structured JSON values of every kind, most of them wrong for the field they land in. */
const nastyValue: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.constantFrom<JsonValue>(null, true, false, 0, -1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 1, 1.5, 1e308, "", "NaN", "Infinity", "-0",
    "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "not-a-time", "AAAA", "!!!", "bindings,etag", "*",
    [], {}, [null], { "@type": "type.googleapis.com/google.protobuf.Empty" }),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 30 }),
  fc.base64String({ maxLength: 24 }),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>,
);

const FIELD_NAMES = [
  "resource", "name", "parent", "policy", "bindings", "role", "members", "condition", "expression", "title", "etag",
  "version", "auditConfigs", "auditLogConfigs", "logType", "exemptedMembers", "service", "updateMask", "paths",
  "options", "requestedPolicyVersion", "permissions", "principals", "attributes", "explain", "minSequence", "pageSize",
  "pageToken", "type", "resourceType", "displayName", "cascade", "principal", "startTime", "endTime", "createTime",
];

/** A JSON object shaped like `method`'s request: its own fields (string fields mostly names), and stray others. */
function shapedRequest(method: DescMethod): fc.Arbitrary<Record<string, JsonValue>> {
  const name = isRead(method) ? fc.oneof(absentOrInvalidName, fc.constantFrom(...real)) : absentOrInvalidName;
  const leaf: fc.Arbitrary<JsonValue> = fc.oneof(name, nastyValue);
  const node: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      fc.array(tie("value"), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom(...FIELD_NAMES), tie("value"), { maxKeys: 4 }),
    ),
  })).value;
  const own = Object.fromEntries(
    method.input.fields.map((f) => [
      f.jsonName,
      f.fieldKind === "scalar" && f.scalar === ScalarType.STRING ? fc.oneof({ weight: 3, arbitrary: name }, { weight: 1, arbitrary: nastyValue }) : node,
    ]),
  ) as Record<string, fc.Arbitrary<JsonValue>>;
  return fc
    .tuple(fc.record(own, { requiredKeys: [] }), fc.dictionary(fc.constantFrom(...FIELD_NAMES), node, { maxKeys: 2 }))
    .map(([fields, stray]) => ({ ...stray, ...fields }) as Record<string, JsonValue>);
}

const methodArb = fc.constantFrom(...METHODS);

/** Hand-picked texts that are not JSON, or not the JSON a request is: each is also sent to every RPC once. */
const NASTY_JSON = [
  "", "{", "}", "[", "{\"resource\":", "{\"resource\": }", "{'resource': 'x'}", "nul", "tru", "\uFEFF{}", "{}{}", "{\"a\":1,}",
  "{\"resource\": \"organizations/x\", \"resource\": 1}", "\"\\ud800\"", "{\"pageSize\": 1e999}", "{\"pageSize\": -0.0}",
  "{\"pageSize\": \"0x10\"}", "{\"etag\": \"***\"}", "{\"policy\": {\"version\": 1e10}}", "{\"updateMask\": \"a,,b\"}",
  "{\"attributes\": {\"a\": " + "[".repeat(20_000) + "]".repeat(20_000) + "}}",
  "{\"options\": " + "{\"x\":".repeat(5_000) + "1" + "}".repeat(5_000) + "}",
  "[".repeat(50_000),
  "{\"resource\": {\"name\": \"clouds/zz-absent\", \"parent\": " + "[".repeat(10_000) + "]".repeat(10_000) + "}}",
  "{\"policy\": {\"bindings\": [{\"role\": \"roles/owner\", \"members\": [" + "\"user:a@b.co\",".repeat(3_000) + "\"x\"]}]}}",
];

/** Text that is not JSON, or not the JSON a request is. */
const malformedJson = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.constantFrom(...NASTY_JSON),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)).chain((text) =>
    fc.nat({ max: Math.max(0, text.length - 1) }).map((cut) => text.slice(0, cut)),
  ),
);

/** Bytes near a valid request of `method`: one shaped request that parses, encoded, then mutated. */
function mutatedBinary(method: DescMethod): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(shapedRequest(method), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("flip", "cut", "insert", "set")), { minLength: 1, maxLength: 4 }))
    .map(([json, mutations]) => {
      let bytes: Uint8Array;
      try {
        bytes = toBinary(method.input, fromJson(method.input, json, { ignoreUnknownFields: true }));
      } catch {
        bytes = toBinary(method.input, create(method.input));
      }
      let out = Array.from(bytes);
      for (const [at, value, kind] of mutations) {
        const i = out.length === 0 ? 0 : at % out.length;
        if (kind === "flip" && out.length) out[i] = out[i]! ^ (1 << (value % 8));
        else if (kind === "set" && out.length) out[i] = value;
        else if (kind === "cut") out = out.slice(0, i);
        else out.splice(i, 0, value);
      }
      return new Uint8Array(out);
    });
}

/** Framing mistakes on top of a payload. */
const grpcBody = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((p) => frame(p)),
  fc.uint8Array({ maxLength: 200 }).map((p) => frame(p, 1)), // "compressed" without grpc-encoding
  fc.uint8Array({ maxLength: 50 }).map((p) => frame(p, 0, p.length + 10)), // declares more than it sends
  fc.uint8Array({ minLength: 1, maxLength: 50 }).map((p) => frame(p, 0, p.length - 1)), // trailing garbage
  fc.uint8Array({ maxLength: 50 }).map((p) => frame(p, 0, 0xffff_ffff)), // declares 4 GiB
  fc.uint8Array({ maxLength: 50 }).map((p) => new Uint8Array([...frame(p), ...frame(p)])), // two messages to a unary RPC
  fc.uint8Array({ maxLength: 4 }), // not even a frame header
  fc.constant(new Uint8Array()),
  fc.uint8Array({ maxLength: 40 }).map((p) => frame(p, 0x80)),
);

// ---------------------------------------------------------------------------------------------------------------------
// Properties (300 runs in all)

const CONNECT_PROTO_RUNS = 45;
const CONNECT_JSON_RUNS = 45;
const MALFORMED_JSON_RUNS = 40;
const SHAPED_JSON_RUNS = 60;
const MUTATED_PROTO_RUNS = 40;
const GRPC_MAIN_RUNS = 45;
const GRPC_PORT_RUNS = 25;

/** The tests of describe("fuzz"), and how many have finished (the tally's check needs them all). */
const FUZZ_TESTS = 10;
let finished = 0;

describe("fuzz", { timeout: 180_000 }, () => {
  test("random bytes as Connect protobuf bodies, to every RPC", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (body) => {
        const answers = await Promise.all(PATHS.map((path) => connectPost(path, body, "application/proto")));
        answers.forEach((a, i) => expectHealthy(a, PATHS[i]!));
      }),
      { numRuns: CONNECT_PROTO_RUNS },
    );
  });

  test("random JSON values as Connect JSON bodies, to every RPC", async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (value) => {
        const body = JSON.stringify(value) ?? "null";
        const answers = await Promise.all(PATHS.map((path) => connectPost(path, body, "application/json")));
        answers.forEach((a, i) => expectHealthy(a, PATHS[i]!));
      }),
      { numRuns: CONNECT_JSON_RUNS, examples: [[{}], [[]], [null]] },
    );
  });

  test("malformed JSON (and a wrong content type) to every RPC", async () => {
    await fc.assert(
      fc.asyncProperty(malformedJson, fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "application/xml"), async (text, type) => {
        const answers = await Promise.all(PATHS.map((path) => connectPost(path, text, type)));
        answers.forEach((a, i) => expectHealthy(a, PATHS[i]!));
      }),
      { numRuns: MALFORMED_JSON_RUNS },
    );
  });

  test("every hand-picked malformed JSON text, to every RPC", async () => {
    for (const text of NASTY_JSON) {
      const answers = await Promise.all(PATHS.map((path) => connectPost(path, text, "application/json")));
      answers.forEach((a, i) => expectHealthy(a, `${PATHS[i]} ${text.slice(0, 80)}`));
    }
  });

  test("bodies shaped like each request, with wrong values", async () => {
    await fc.assert(
      fc.asyncProperty(methodArb.chain((m) => fc.tuple(fc.constant(m), shapedRequest(m))), async ([method, json]) => {
        const path = `/${method.parent.typeName}/${method.name}`;
        expectHealthy(await connectPost(path, JSON.stringify(json), "application/json"), `${path} ${JSON.stringify(json)}`);
      }),
      {
        numRuns: SHAPED_JSON_RUNS,
        // Besides the random ones, always: a well-formed read of an absent resource, and a write to one.
        examples: [
          [[ResourceService.method.getResource, { name: "projects/zz-absent-1" }]],
          [[PolicyService.method.setPolicy, { resource: "clouds/zz-absent-2", policy: { bindings: [] } }]],
        ],
      },
    );
  });

  test("mutated protobuf of each request", async () => {
    await fc.assert(
      fc.asyncProperty(methodArb.chain((m) => fc.tuple(fc.constant(m), mutatedBinary(m))), async ([method, bytes]) => {
        const path = `/${method.parent.typeName}/${method.name}`;
        expectHealthy(await connectPost(path, bytes, "application/proto"), `${path} ${Buffer.from(bytes).toString("hex")}`);
      }),
      { numRuns: MUTATED_PROTO_RUNS },
    );
  });

  test("random and malformed gRPC frames on the main port, to every RPC", async () => {
    await fc.assert(
      fc.asyncProperty(grpcBody, async (body) => {
        const answers = await Promise.all(PATHS.map((path) => grpcPost(server.url, path, body, "grpc main")));
        answers.forEach((a, i) => expectHealthy(a, `${PATHS[i]} ${Buffer.from(body).toString("hex")}`));
      }),
      { numRuns: GRPC_MAIN_RUNS, examples: [[frame(new Uint8Array())], [frame(new Uint8Array([0x0a, 0x01, 0x78]))]] },
    );
  });

  test("random and malformed gRPC frames on the gRPC port, to every RPC", async () => {
    await fc.assert(
      fc.asyncProperty(grpcBody, async (body) => {
        const answers = await Promise.all(PATHS.map((path) => grpcPost(`http://${server.grpcAddress}`, path, body, "grpc port")));
        answers.forEach((a, i) => expectHealthy(a, `${PATHS[i]} ${Buffer.from(body).toString("hex")}`));
      }),
      { numRuns: GRPC_PORT_RUNS, examples: [[frame(new Uint8Array())], [frame(new Uint8Array([0x0a, 0x01, 0x78]))]] },
    );
  });

  test("an undecodable request protobuf is INVALID_ARGUMENT on both ports and every protocol (issue 13, item 11)", async () => {
    const bytes = new Uint8Array([0x0a, 0xff]);
    const path = "/policy.v1.PolicyService/GetPolicy";
    const main = await grpcPost(server.url, path, frame(bytes), "grpc main");
    const port = await grpcPost(`http://${server.grpcAddress}`, path, frame(bytes), "grpc port");
    const connect = await connectPost(path, bytes, "application/proto");
    expect([main.code, port.code, connect.code, connect.http]).toEqual(["invalid_argument", "invalid_argument", "invalid_argument", 400]);
    for (const answer of [main, port, connect]) expect(answer.message).not.toMatch(LEAKS);
    // gRPC-Web: the status is in the trailer frame at the end of the body.
    const web = await fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      body: Buffer.from(frame(bytes)),
    });
    expect(Buffer.from(await web.arrayBuffer()).toString("latin1")).toMatch(/grpc-status: ?3\b/);
    // A server-streaming call's one request too (the gRPC port hands it to the handler as it reads it).
    const watch = "/policy.v1.WatchService/Watch";
    const streams = await Promise.all([grpcPost(server.url, watch, frame(bytes), "grpc main"), grpcPost(`http://${server.grpcAddress}`, watch, frame(bytes), "grpc port")]);
    expect(streams.map((a) => a.code)).toEqual(["invalid_argument", "invalid_argument"]);
    for (const answer of streams) expect(answer.message).not.toMatch(LEAKS);
  });

  // The inputs of issue 13 (items 1 and 3), each on both ports and over Connect: a clear error, never INTERNAL.
  test("the hardening inputs: expensive or invalid conditions, large attributes, long names and members, many bindings", async () => {
    const a400 = "a".repeat(400);
    const conditional = (expression: string) => ({
      resource: real[0]!,
      policy: { version: 3, bindings: [{ role: "roles/owner", members: ["user:ada@example.com"], condition: { expression } }] },
    });
    const setPolicies: [string, JsonValue][] = [
      ["freeze", conditional(`'${a400}'.replace('a','${a400}').replace('a','aa').size() > 0`)],
      ["2,000 terms", conditional(`${Array(2000).fill("1").join("+")} > 0`)],
      ["invalid regex", conditional("resource.name.matches('(')")],
      ["5,000 empty bindings", { resource: real[0]!, policy: { bindings: Array.from({ length: 5_000 }, () => ({ role: "roles/owner", members: [] })) } }],
      ["3.9 MB member", { resource: real[0]!, policy: { bindings: [{ role: "roles/owner", members: [`user:${"a".repeat(3_900_000)}@example.com`] }] } }],
      ["1,242-character name", { resource: `projects/${"x".repeat(1_242)}`, policy: {} }],
      ["10k-character name", { resource: `projects/${"x".repeat(10_000)}`, policy: {} }],
    ];
    const checks: [string, JsonValue][] = [
      ["100 KB attribute", { resource: real[2]!, principals: ["user:ada@example.com"], permissions: ["projects.get"], attributes: { s: "a".repeat(100_000) } }],
    ];
    const requests = [
      ...setPolicies.map(([what, json]) => [what, PolicyService.method.setPolicy, json] as const),
      ...checks.map(([what, json]) => [what, AccessService.method.checkAccess, json] as const),
    ];
    for (const [what, method, json] of requests) {
      const path = `/${method.parent.typeName}/${method.name}`;
      const bytes = toBinary(method.input, fromJson(method.input, json));
      const answers = [
        await connectPost(path, JSON.stringify(json), "application/json"),
        await grpcPost(server.url, path, frame(bytes), "grpc main"),
        await grpcPost(`http://${server.grpcAddress}`, path, frame(bytes), "grpc port"),
      ];
      for (const answer of answers) {
        expectHealthy(answer, `${what} (${answer.transport})`);
        expect(answer.code, `${what} (${answer.transport})`).toBe("invalid_argument");
        expect(Buffer.byteLength(answer.message), `${what} (${answer.transport})`).toBeLessThanOrEqual(1024);
      }
    }
  });

  // After each test, whatever order they run in: the server answers, health is SERVING on both ports, and the data is
  // byte-identical — nothing changed, nothing new (the resources are exactly the four stored at the start).
  afterEach(async () => {
    for (const baseUrl of [server.url, `http://${server.grpcAddress}`]) {
      const health = apiClients(baseUrl, { protocol: "grpc" }).health;
      expect((await health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    }
    expect(await snapshot(admin)).toEqual(before);
    expect((await admin.resources.listResources({ pageSize: 1000 })).resources.map((r) => r.name).sort()).toEqual([...real].sort());
    finished++;
  });

  // Once all the tests above have run (not when some were picked alone): the fuzz reached the validation, not only
  // the parsers.
  afterAll(() => {
    if (finished < FUZZ_TESTS) return;
    const codes = [...tally.keys()].join("\n");
    expect(codes).toMatch(/connect invalid_argument/);
    expect(codes).toMatch(/connect not_found/);
    expect(codes).toMatch(/grpc main invalid_argument/);
    expect(codes).toMatch(/connect ok/);
    expect(codes).toMatch(/grpc port invalid_argument|grpc port not_found|grpc port ok/);
  });
});
