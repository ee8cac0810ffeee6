// The dedicated gRPC port (grpc-js) serves the same implementations as the main port: the same calls give the same
// results, the same errors (code, message, google.rpc.BadRequest in `grpc-status-details-bin`), the same
// `policy-sequence` header on writes. Checked with connect-es's gRPC transport and with @grpc/grpc-js clients built by
// @grpc/proto-loader from proto/, on both ports.
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BadRequestSchema, type BadRequest } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import { AccessState } from "../../gen/policy/v1/access_service_pb.js";
import type { Policy } from "../../gen/policy/v1/policy_pb.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { failureOf } from "../helpers/call-failures.js";
import { apiClients as clientsAt, CALL_TIMEOUT_MS, type ApiClients, type Protocol } from "../helpers/clients.js";
import { uniqueId } from "../helpers/ids.js";
import { grpcJsCall, grpcJsClients, grpcJsError, type GrpcJsClients } from "../helpers/grpc-js.js";

const apiClients = (baseUrl: string, protocol: Protocol): ApiClients => clientsAt(baseUrl, { protocol, timeoutMs: CALL_TIMEOUT_MS });

const SEQUENCE_HEADER = "policy-sequence";

let server: TestServer;
/** connect-es clients: gRPC and Connect on the main port, gRPC on the gRPC port. */
let mainGrpc: ApiClients;
let mainConnect: ApiClients;
let portGrpc: ApiClients;
/** grpc-js clients from proto-loader on each port. */
let jsMain: GrpcJsClients;
let jsPort: GrpcJsClients;

beforeAll(async () => {
  server = await startTestServer();
  mainGrpc = apiClients(server.url, "grpc");
  mainConnect = apiClients(server.url, "connect-h2");
  portGrpc = apiClients(`http://${server.grpcAddress}`, "grpc");
  jsMain = await grpcJsClients(new URL(server.url).host);
  jsPort = await grpcJsClients(server.grpcAddress);
});
afterAll(async () => {
  jsMain?.close();
  jsPort?.close();
  await server?.stop();
});

const CONNECT_CLIENTS = () => ({ "main port gRPC": mainGrpc, "main port Connect": mainConnect, "gRPC port": portGrpc });
const GRPC_JS_CLIENTS = () => ({ "main port": jsMain, "gRPC port": jsPort });

/** A policy as plain data, from a protobuf-es message or from a proto-loader object. */
function plain(p: Policy | any) {
  const status = typeof p.syncStatus === "string" ? p.syncStatus : ["SYNC_STATUS_UNSPECIFIED", "SYNC_STATUS_PENDING", "SYNC_STATUS_SUCCESS", "SYNC_STATUS_FAILED"][p.syncStatus];
  return {
    version: p.version,
    etag: Buffer.from(p.etag).toString("base64"),
    bindings: p.bindings.map((b: any) => ({
      role: b.role,
      members: [...b.members],
      condition: b.condition ? { expression: b.condition.expression, title: b.condition.title, description: b.condition.description } : null,
    })),
    syncStatus: status,
    updateTime: p.updateTime ? `${p.updateTime.seconds}.${p.updateTime.nanos}` : null,
  };
}

async function organization(clients: ApiClients = mainGrpc): Promise<string> {
  const org = `organizations/${uniqueId("par")}`;
  await clients.resources.createResource({ resource: { name: org } });
  return org;
}

describe("the same calls give the same results", () => {
  test("a policy set on the gRPC port reads back identically on every port and client", async () => {
    const org = await organization(portGrpc);
    const set = await portGrpc.policies.setPolicy({
      resource: org,
      policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com", "group:admins", "user:ada@example.com"] }] },
    });
    expect(set.bindings).toEqual([expect.objectContaining({ role: "roles/owner", members: ["group:admins", "user:ada@example.com"] })]);
    for (const [name, clients] of Object.entries(CONNECT_CLIENTS())) {
      expect(await clients.policies.getPolicy({ resource: org }), name).toEqual(set);
    }
    for (const [name, clients] of Object.entries(GRPC_JS_CLIENTS())) {
      const { response } = await grpcJsCall(clients.policies, "GetPolicy", { resource: org });
      expect(plain(response), name).toEqual(plain(set));
    }
  });

  test("cached reads answer the last write: GetPolicy and LookupEffectivePolicy after each of many writes", async () => {
    // The read path hands out frozen cached answers and the gRPC port encodes each once: a write must replace them.
    const org = await organization(portGrpc);
    const project = `projects/${uniqueId("par")}`;
    await portGrpc.resources.createResource({ resource: { name: project, parent: org } });
    for (let i = 0; i < 10; i++) {
      const member = `user:u${i}@example.com`;
      const writer = i % 2 === 0 ? portGrpc : mainConnect;
      const set = await writer.policies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/owner", members: [member] }] } });
      for (let read = 0; read < 2; read++) {
        expect(await portGrpc.policies.getPolicy({ resource: org }), `write ${i}`).toEqual(set);
        const effective = await portGrpc.policies.lookupEffectivePolicy({ resource: project });
        expect(effective.bindings.map((b) => b.binding!.members), `write ${i}`).toEqual([[member]]);
      }
    }
  });

  test("read-modify-write with the etag works across ports; a stale etag is ABORTED on both", async () => {
    const org = await organization();
    const read = await mainGrpc.policies.getPolicy({ resource: org });
    const written = await portGrpc.policies.setPolicy({
      resource: org,
      policy: { etag: read.etag, bindings: [{ role: "roles/collaborator", members: ["user:bob@example.com"] }] },
    });
    expect(written.etag).not.toEqual(read.etag);
    const { response: viaJs } = await grpcJsCall(jsMain.policies, "SetPolicy", {
      resource: org,
      policy: { etag: Buffer.from(written.etag), bindings: [{ role: "roles/owner", members: ["user:carol@example.com"] }] },
    });
    const final = await portGrpc.policies.getPolicy({ resource: org });
    expect(plain(final)).toEqual(plain(viaJs));
    for (const clients of Object.values(CONNECT_CLIENTS())) {
      const error = await failureOf(clients.policies.setPolicy({ resource: org, policy: { etag: written.etag, bindings: [] } }));
      expect(Code[error.code]).toBe("Aborted");
    }
    expect(await mainConnect.policies.getPolicy({ resource: org })).toEqual(final);
  });

  test("conditional bindings and requested_policy_version give the same answers on both ports", async () => {
    const org = await organization();
    await mainGrpc.policies.setPolicy({
      resource: org,
      policy: {
        version: 3,
        bindings: [
          { role: "roles/owner", members: ["user:ada@example.com"], condition: { title: "weekdays", expression: "request.time.getDayOfWeek() < 5" } },
          { role: "roles/collaborator", members: ["group:eng"] },
        ],
      },
    });
    for (const version of [0, 1, 3]) {
      const request = { resource: org, options: { requestedPolicyVersion: version } };
      const main = await mainGrpc.policies.getPolicy(request);
      expect(await portGrpc.policies.getPolicy(request)).toEqual(main);
      const { response } = await grpcJsCall(jsPort.policies, "GetPolicy", request);
      expect(plain(response)).toEqual(plain(main));
    }
  });

  test("resources, lists and effective policies are the same on both ports", async () => {
    const org = await organization();
    const cloud = `clouds/${uniqueId("parc")}`;
    const project = `projects/${uniqueId("parp")}`;
    await portGrpc.resources.createResource({ resource: { name: cloud, parent: org, displayName: "Prod" } });
    await mainGrpc.resources.createResource({ resource: { name: project, parent: cloud } });
    await portGrpc.policies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] } });
    await portGrpc.policies.setPolicy({ resource: project, policy: { bindings: [{ role: "roles/readonly", members: ["allUsers"] }] } });

    expect(await portGrpc.resources.getResource({ name: cloud })).toEqual(await mainGrpc.resources.getResource({ name: cloud }));
    const list = { parent: org, pageSize: 10 };
    expect(await portGrpc.resources.listResources(list)).toEqual(await mainConnect.resources.listResources(list));
    const effective = { resource: project };
    const lookedUp = await portGrpc.policies.lookupEffectivePolicy(effective);
    expect(lookedUp).toEqual(await mainGrpc.policies.lookupEffectivePolicy(effective));
    expect(lookedUp.policies.map((p) => p.resource)).toEqual([project, org]);
    const policies = { resourceType: "project", parent: org, pageSize: 10 };
    expect(await portGrpc.policies.listPolicies(policies)).toEqual(await mainGrpc.policies.listPolicies(policies));
    const { response } = await grpcJsCall(jsPort.policies, "LookupEffectivePolicy", effective);
    expect(response.policies.map((p: any) => p.resource)).toEqual([project, org]);
  });
});

interface Failure {
  code: number;
  message: string;
  badRequest?: BadRequest;
}

function fromConnect(error: ConnectError): Failure {
  const [badRequest] = error.findDetails(BadRequestSchema);
  return { code: error.code, message: error.rawMessage, ...(badRequest ? { badRequest } : {}) };
}

/** The failure a grpc-js client saw, with the google.rpc.Status of `grpc-status-details-bin` checked against it. */
function fromGrpcJs(error: grpc.ServiceError): Failure {
  const [bin] = error.metadata.get("grpc-status-details-bin") as Buffer[];
  if (!bin) return { code: error.code, message: error.details };
  const status = fromBinary(StatusSchema, bin);
  expect(status.code).toBe(error.code);
  expect(status.message).toBe(error.details);
  const badRequests = status.details.map((any) => anyUnpack(any, BadRequestSchema)).filter((d) => d !== undefined);
  expect(badRequests.length).toBeLessThanOrEqual(1);
  return { code: error.code, message: error.details, ...(badRequests[0] ? { badRequest: badRequests[0] } : {}) };
}

describe("the same errors: code, message and google.rpc.BadRequest", () => {
  // Fixtures shared by every client, so that each failure is the same request against the same state.
  let fixture: { org: string; cloud: string; staleEtag: Uint8Array };
  beforeAll(async () => {
    const org = await organization();
    const cloud = `clouds/${uniqueId("errc")}`;
    await mainGrpc.resources.createResource({ resource: { name: cloud, parent: org } });
    const { etag: staleEtag } = await mainGrpc.policies.getPolicy({ resource: org });
    await mainGrpc.policies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] } });
    fixture = { org, cloud, staleEtag };
  });

  type Case = {
    service: "policies" | "resources" | "access";
    method: string;
    request: () => object;
    code: Code;
    badRequest?: boolean;
  };
  const CASES: Record<string, Case> = {
    "unknown resource": { service: "policies", method: "GetPolicy", request: () => ({ resource: "projects/prj_nowhere" }), code: Code.NotFound },
    "invalid member": {
      service: "policies",
      method: "SetPolicy",
      request: () => ({ resource: fixture.org, policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com", "ada"] }] } }),
      code: Code.InvalidArgument,
      badRequest: true,
    },
    "a message with non-ASCII, percent and reserved characters": {
      service: "policies",
      method: "SetPolicy",
      request: () => ({ resource: fixture.org, policy: { bindings: [{ role: "roles/owner", members: ["jürgen:%41/é;?#,&=+$@x"] }] } }),
      code: Code.InvalidArgument,
      badRequest: true,
    },
    "role not grantable": {
      service: "policies",
      method: "SetPolicy",
      request: () => ({ resource: fixture.cloud, policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] } }),
      code: Code.InvalidArgument,
      badRequest: true,
    },
    "unsupported version": {
      service: "policies",
      method: "SetPolicy",
      request: () => ({ resource: fixture.org, policy: { version: 2, bindings: [{ role: "roles/owner", members: ["allUsers"] }] } }),
      code: Code.InvalidArgument,
      badRequest: true,
    },
    "stale etag": {
      service: "policies",
      method: "SetPolicy",
      request: () => ({ resource: fixture.org, policy: { etag: fixture.staleEtag, bindings: [{ role: "roles/owner", members: ["allUsers"] }] } }),
      code: Code.Aborted,
    },
    "duplicate create": { service: "resources", method: "CreateResource", request: () => ({ resource: { name: fixture.org } }), code: Code.AlreadyExists },
    "bad resource name": {
      service: "resources",
      method: "CreateResource",
      request: () => ({ resource: { name: "Not A Name" } }),
      code: Code.InvalidArgument,
      badRequest: true,
    },
    "delete with children": { service: "resources", method: "DeleteResource", request: () => ({ name: fixture.org }), code: Code.FailedPrecondition },
    "unknown permission": {
      service: "access",
      method: "CheckAccess",
      request: () => ({ resource: fixture.org, principals: ["user:ada@example.com"], permissions: ["organizations.fly"] }),
      code: Code.InvalidArgument,
    },
  };

  test.each(Object.keys(CASES))("%s", async (name) => {
    const c = CASES[name]!;
    const lower = c.method[0]!.toLowerCase() + c.method.slice(1);
    const seen: [string, Failure][] = [];
    for (const [client, clients] of Object.entries(CONNECT_CLIENTS())) {
      const fn = (clients[c.service] as any)[lower].bind(clients[c.service]);
      seen.push([`connect-es, ${client}`, fromConnect(await failureOf(fn(c.request())))]);
    }
    for (const [client, clients] of Object.entries(GRPC_JS_CLIENTS())) {
      const error = await grpcJsError(grpcJsCall(clients[c.service], c.method, c.request()));
      seen.push([`grpc-js, ${client}`, fromGrpcJs(error)]);
    }
    const [, reference] = seen[0]!;
    expect(Code[reference.code]).toBe(Code[c.code]);
    expect(reference.message.length).toBeGreaterThan(0);
    if (c.badRequest) expect(reference.badRequest?.fieldViolations.length).toBeGreaterThan(0);
    for (const [client, failure] of seen) expect(failure, client).toEqual(reference);
  });

  test("bad input changed nothing", async () => {
    const policy = await portGrpc.policies.getPolicy({ resource: fixture.org });
    expect(policy.bindings.map((b) => [b.role, b.members])).toEqual([["roles/owner", ["user:ada@example.com"]]]);
    expect((await portGrpc.resources.listResources({ parent: fixture.org })).resources.map((r) => r.name)).toEqual([fixture.cloud]);
  });
});

describe("the policy-sequence header", () => {
  async function connectHeader(clients: ApiClients, write: boolean, org: string): Promise<string | null> {
    let header: Headers | undefined;
    const onHeader = (h: Headers) => (header = h);
    if (write) {
      await clients.policies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/owner", members: ["allUsers"] }] } }, { onHeader });
    } else {
      await clients.policies.getPolicy({ resource: org }, { onHeader });
    }
    return header!.get(SEQUENCE_HEADER);
  }

  test("is on every write and on no read, on both ports, for connect-es and grpc-js clients", async () => {
    const org = await organization();
    const sequences: number[] = [];
    for (const [name, clients] of Object.entries(CONNECT_CLIENTS())) {
      const value = await connectHeader(clients, true, org);
      expect(value, name).toMatch(/^\d+$/);
      sequences.push(Number(value));
      expect(await connectHeader(clients, false, org), name).toBeNull();
    }
    for (const [name, clients] of Object.entries(GRPC_JS_CLIENTS())) {
      const write = await grpcJsCall(clients.policies, "SetPolicy", { resource: org, policy: { bindings: [{ role: "roles/owner", members: ["allUsers"] }] } });
      const [value] = write.header.get(SEQUENCE_HEADER);
      expect(String(value), name).toMatch(/^\d+$/);
      sequences.push(Number(value));
      const read = await grpcJsCall(clients.policies, "GetPolicy", { resource: org });
      expect(read.header.get(SEQUENCE_HEADER), name).toEqual([]);
    }
    // Each write is newer than the one before it.
    for (let i = 1; i < sequences.length; i++) expect(sequences[i]).toBeGreaterThan(sequences[i - 1]!);
    const created = await grpcJsCall(jsPort.resources, "CreateResource", { resource: { name: `clouds/${uniqueId("seqc")}`, parent: org } });
    expect(Number(created.header.get(SEQUENCE_HEADER)[0])).toBeGreaterThan(sequences.at(-1)!);
  });
});

describe("CheckAccess on the gRPC port", () => {
  test("answers like the main port, and reads its own writes through the policy-sequence token", async () => {
    const org = await organization(portGrpc);
    const project = `projects/${uniqueId("chkp")}`;
    await portGrpc.resources.createResource({ resource: { name: project, parent: org } });
    const write = await grpcJsCall(jsPort.policies, "SetPolicy", {
      resource: org,
      policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] },
    });
    const token = String(write.header.get(SEQUENCE_HEADER)[0]);
    const request = {
      resource: project,
      principals: ["user:ada@example.com"],
      permissions: ["projects.delete", "projects.get"],
      minSequence: BigInt(token),
      explain: true,
    };
    const viaPort = await portGrpc.access.checkAccess(request);
    expect(viaPort.grantedPermissions).toEqual(["projects.delete", "projects.get"]);
    expect(viaPort.results.map((r) => r.state)).toEqual([AccessState.GRANTED, AccessState.GRANTED]);
    expect(viaPort.results[0]!.explanations[0]).toMatchObject({ resource: org, role: "roles/owner", matchedMember: "user:ada@example.com" });
    expect(viaPort.sequence).toBeGreaterThanOrEqual(BigInt(token));
    const viaMain = await mainGrpc.access.checkAccess(request);
    expect({ ...viaMain, sequence: 0n }).toEqual({ ...viaPort, sequence: 0n });

    const { response } = await grpcJsCall(jsPort.access, "CheckAccess", { ...request, minSequence: token });
    expect(response.grantedPermissions).toEqual(["projects.delete", "projects.get"]);
    expect(response.results.map((r: any) => r.state)).toEqual(["ACCESS_STATE_GRANTED", "ACCESS_STATE_GRANTED"]);

    const other = await grpcJsCall(jsPort.access, "CheckAccess", { resource: project, principals: ["user:bob@example.com"], permissions: ["projects.get"] });
    expect(other.response.grantedPermissions).toEqual([]);
    expect(other.response.results.map((r: any) => r.state)).toEqual(["ACCESS_STATE_NOT_GRANTED"]);
  });

  test("a min_sequence the store has not reached is FAILED_PRECONDITION on both ports, with the same message", async () => {
    const org = await organization();
    const request = { resource: org, principals: ["user:ada@example.com"], permissions: ["organizations.get"], minSequence: 1n << 50n };
    const main = fromConnect(await failureOf(mainGrpc.access.checkAccess(request)));
    expect(Code[main.code]).toBe("FailedPrecondition");
    expect(fromConnect(await failureOf(portGrpc.access.checkAccess(request)))).toEqual(main);
    const js = await grpcJsError(grpcJsCall(jsPort.access, "CheckAccess", { ...request, minSequence: String(request.minSequence) }));
    expect(fromGrpcJs(js)).toEqual(main);
  });
});
