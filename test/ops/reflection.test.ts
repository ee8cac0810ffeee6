// gRPC server reflection (v1 and v1alpha) on the main port and on the grpc-js port: `buf curl` needs no --schema, and
// a reflection client resolves services, methods and messages to files with their transitive dependencies.
import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { Health } from "../../gen/health/v1/health_pb.js";
import { AccessService } from "../../gen/policy/v1/access_service_pb.js";
import { PolicyService } from "../../gen/policy/v1/policy_service_pb.js";
import { ResourceService } from "../../gen/policy/v1/resource_service_pb.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { API_SERVICES, bufCurl, CALL_TIMEOUT_MS, uniqueId } from "./support.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.stop();
});

const PORTS = ["main", "grpc"] as const;
type Port = (typeof PORTS)[number];
const baseUrl = (port: Port) => (port === "main" ? server.url : `http://${server.grpcAddress}`);

const EXPECTED_METHODS = [PolicyService, ResourceService, AccessService, Health]
  .flatMap((s) => s.methods.map((m) => `${s.typeName}/${m.name}`))
  .sort();

describe.each(PORTS)("buf curl through reflection on the %s port", (port) => {
  test("--list-methods lists every method of every API service and of health, with no --schema", async () => {
    const result = await bufCurl(["--list-methods", baseUrl(port)]);
    expect(result.code, result.stderr).toBe(0);
    const listed = result.stdout.trim().split("\n").map((l) => l.trim());
    for (const method of EXPECTED_METHODS) expect(listed).toContain(method);
    expect(listed).toContain("grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
    expect(listed).toContain("grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo");
    // Nothing is listed twice, and every listed method has the form package.Service/Method.
    expect(new Set(listed).size).toBe(listed.length);
    for (const line of listed) expect(line).toMatch(/^[a-z0-9_.]+\.[A-Z]\w*\/[A-Z]\w*$/);
  });

  test.each(["grpc-v1", "grpc-v1alpha"])("a real call resolved with --reflect-protocol %s", async (reflectProtocol) => {
    const org = `organizations/${uniqueId("refl")}`;
    const created = await bufCurl([
      "--reflect-protocol",
      reflectProtocol,
      "-d",
      JSON.stringify({ resource: { name: org, displayName: "Reflected" } }),
      `${baseUrl(port)}/policy.v1.ResourceService/CreateResource`,
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: org, type: "organization", displayName: "Reflected" });

    const set = await bufCurl([
      "--reflect-protocol",
      reflectProtocol,
      "-d",
      JSON.stringify({ resource: org, policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] } }),
      `${baseUrl(port)}/policy.v1.PolicyService/SetPolicy`,
    ]);
    expect(set.code, set.stderr).toBe(0);

    const got = await bufCurl(["-d", JSON.stringify({ resource: org }), `${baseUrl(port)}/policy.v1.PolicyService/GetPolicy`]);
    expect(got.code, got.stderr).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({
      etag: JSON.parse(set.stdout).etag,
      bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }],
    });
  });

  test("an error through reflection: exit code non-zero, code not_found on stderr", async () => {
    const missing = await bufCurl([
      "-d",
      JSON.stringify({ resource: `projects/${uniqueId("missing")}` }),
      `${baseUrl(port)}/policy.v1.PolicyService/GetPolicy`,
    ]);
    expect(missing.code).not.toBe(0);
    expect(missing.code).not.toBeNull();
    expect(JSON.parse(missing.stderr)).toMatchObject({ code: "not_found" });
  });

  test("a health check through reflection", async () => {
    const result = await bufCurl(["-d", "{}", `${baseUrl(port)}/grpc.health.v1.Health/Check`]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ status: "SERVING" });
  });
});

type Version = "v1" | "v1alpha";
type AnyResponse = v1.ServerReflectionResponse | v1alpha.ServerReflectionResponse;
type RequestInit = Parameters<typeof create<typeof v1.ServerReflectionRequestSchema>>[1];

/** Sends `requests` on one reflection stream; returns the responses, one per request, in order. */
async function reflect(port: Port, version: Version, requests: RequestInit[]): Promise<AnyResponse[]> {
  const transport = createGrpcTransport({ baseUrl: baseUrl(port) });
  const responses: AnyResponse[] = [];
  if (version === "v1") {
    const client = createClient(v1.ServerReflection, transport);
    async function* input() {
      for (const r of requests) yield create(v1.ServerReflectionRequestSchema, r);
    }
    for await (const res of client.serverReflectionInfo(input(), { timeoutMs: CALL_TIMEOUT_MS })) responses.push(res);
  } else {
    const client = createClient(v1alpha.ServerReflection, transport);
    async function* input() {
      for (const r of requests) yield create(v1alpha.ServerReflectionRequestSchema, r as never);
    }
    for await (const res of client.serverReflectionInfo(input(), { timeoutMs: CALL_TIMEOUT_MS })) responses.push(res);
  }
  expect(responses).toHaveLength(requests.length);
  return responses;
}

function filesOf(response: AnyResponse): FileDescriptorProto[] {
  expect(response.messageResponse.case, JSON.stringify(response.messageResponse.value)).toBe("fileDescriptorResponse");
  const value = response.messageResponse.value as { fileDescriptorProto: Uint8Array[] };
  return value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
}

/** Asserts that the files are closed under imports, and that together they build a registry. */
function expectSelfContained(files: FileDescriptorProto[]): void {
  const names = new Set(files.map((f) => f.name));
  for (const f of files) for (const dep of f.dependency) expect(names, `${f.name} imports ${dep}`).toContain(dep);
  // protobuf-es wants imports before importers; reflection may send them in any order.
  const byName = new Map(files.map((f) => [f.name, f]));
  const ordered: FileDescriptorProto[] = [];
  const visit = (f: FileDescriptorProto) => {
    if (ordered.includes(f)) return;
    f.dependency.forEach((d) => visit(byName.get(d)!));
    ordered.push(f);
  };
  files.forEach(visit);
  expect(() => createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }))).not.toThrow();
}

describe.each(PORTS.flatMap((p) => (["v1", "v1alpha"] as Version[]).map((v) => [p, v] as const)))(
  "a reflection client on the %s port, %s",
  (port, version) => {
    test("resolves a method symbol to its file with the file's transitive dependencies", async () => {
      const [res] = await reflect(port, version, [
        { host: "", messageRequest: { case: "fileContainingSymbol", value: "policy.v1.PolicyService.SetPolicy" } },
      ]);
      const files = filesOf(res!);
      expect(files[0]!.name).toBe("policy/v1/policy_service.proto");
      const names = files.map((f) => f.name);
      expect(names).toEqual(expect.arrayContaining(["policy/v1/policy.proto", "google/protobuf/field_mask.proto", "google/protobuf/timestamp.proto"]));
      expect(new Set(names).size).toBe(names.length);
      expectSelfContained(files);
      const service = files[0]!.service.find((s) => s.name === "PolicyService");
      expect(service?.method.map((m) => m.name)).toContain("SetPolicy");
    });

    test("resolves a message, a service, a field and an enum to the files defining them", async () => {
      const responses = await reflect(port, version, [
        { messageRequest: { case: "fileContainingSymbol", value: "policy.v1.Binding" } },
        { messageRequest: { case: "fileContainingSymbol", value: "policy.v1.AccessService" } },
        { messageRequest: { case: "fileContainingSymbol", value: "policy.v1.Policy.bindings" } },
        { messageRequest: { case: "fileContainingSymbol", value: "policy.v1.SyncStatus" } },
        { messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.Health" } },
      ]);
      const first = responses.map((r) => filesOf(r)[0]!.name);
      expect(first[0]).toBe("policy/v1/policy.proto");
      expect(first[1]).toBe("policy/v1/access_service.proto");
      expect(first[2]).toBe("policy/v1/policy.proto");
      expect(first[3]).toBe("policy/v1/policy.proto");
      expect(filesOf(responses[4]!)[0]!.package).toBe("grpc.health.v1");
      expect(filesOf(responses[0]!)[0]!.messageType.map((m) => m.name)).toContain("Binding");
      responses.forEach((r) => expectSelfContained(filesOf(r)));
    });

    test("file_by_filename returns the file and its dependencies", async () => {
      const [res] = await reflect(port, version, [
        { messageRequest: { case: "fileByFilename", value: "policy/v1/resource_service.proto" } },
      ]);
      const files = filesOf(res!);
      expect(files[0]!.name).toBe("policy/v1/resource_service.proto");
      expect(files.map((f) => f.name)).toContain("policy/v1/resource.proto");
      expectSelfContained(files);
    });

    test("an unknown symbol or file gets an error_response NOT_FOUND (5), and the stream goes on", async () => {
      const responses = await reflect(port, version, [
        { messageRequest: { case: "fileContainingSymbol", value: "policy.v1.NoSuchThing" } },
        { messageRequest: { case: "fileByFilename", value: "policy/v1/nope.proto" } },
        { messageRequest: { case: "fileContainingSymbol", value: "policy.v1.Binding" } },
      ]);
      for (const r of responses.slice(0, 2)) {
        expect(r.messageResponse.case).toBe("errorResponse");
        expect((r.messageResponse.value as { errorCode: number }).errorCode).toBe(5);
      }
      expect(filesOf(responses[2]!)[0]!.name).toBe("policy/v1/policy.proto");
    });

    test("list_services names every API service, health and reflection", async () => {
      const [res] = await reflect(port, version, [{ host: "localhost", messageRequest: { case: "listServices", value: "" } }]);
      expect(res!.validHost).toBe("localhost");
      expect(res!.originalRequest?.messageRequest.case).toBe("listServices");
      expect(res!.messageResponse.case).toBe("listServicesResponse");
      const names = (res!.messageResponse.value as { service: { name: string }[] }).service.map((s) => s.name);
      expect(names).toEqual(
        expect.arrayContaining([
          ...API_SERVICES,
          "grpc.health.v1.Health",
          "grpc.reflection.v1.ServerReflection",
          "grpc.reflection.v1alpha.ServerReflection",
        ]),
      );
    });
  },
);
