// Interop with an independent gRPC implementation: @grpc/grpc-js with the .proto files loaded at run time by
// @grpc/proto-loader, as a client in another language would use them. Errors carry standard gRPC status codes and
// a `grpc-status-details-bin` trailer any gRPC client can decode.
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, test } from "vitest";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { grpcJsClients, grpcJsError, grpcJsResponse, type GrpcJsClient, type GrpcJsClients } from "../helpers/grpc-js.js";
import { uniqueId } from "./support.js";

let server: TestServer;
let clients: GrpcJsClients;
let policies: GrpcJsClient;
let resources: GrpcJsClient;

beforeAll(async () => {
  server = await startTestServer();
  clients = await grpcJsClients(new URL(server.url).host);
  ({ policies, resources } = clients);
});

afterAll(async () => {
  clients?.close();
  await server?.stop();
});

async function createOrganization(): Promise<string> {
  const name = `organizations/${uniqueId("org")}`;
  await grpcJsResponse(resources, "CreateResource", { resource: { name } });
  return name;
}

test("creates an organization and a cloud under it", async () => {
  const org = await createOrganization();
  const cloud = `clouds/${uniqueId("cld")}`;
  const created = await grpcJsResponse(resources, "CreateResource", { resource: { name: cloud, parent: org, displayName: "Prod" } });
  expect(created).toMatchObject({ name: cloud, parent: org, type: "cloud", displayName: "Prod" });
  expect(await grpcJsResponse(resources, "GetResource", { name: cloud })).toMatchObject({ name: cloud, parent: org });
});

test("sets a policy and gets it back with the same etag", async () => {
  const org = await createOrganization();
  const set = await grpcJsResponse(policies, "SetPolicy", {
    resource: org,
    policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] },
  });
  const got = await grpcJsResponse(policies, "GetPolicy", { resource: org });
  expect(got.bindings).toEqual([expect.objectContaining({ role: "roles/owner", members: ["user:ada@example.com"] })]);
  expect(got.version).toBe(1);
  expect(Buffer.isBuffer(got.etag) && got.etag.length).toBeGreaterThan(0);
  expect(got.etag).toEqual(set.etag);
});

test("a policy written by grpc-js reads back identically through the Connect client", async () => {
  const org = await createOrganization();
  const set = await grpcJsResponse(policies, "SetPolicy", {
    resource: org,
    policy: { bindings: [{ role: "roles/collaborator", members: ["group:ug_42", "user:bob@example.com"] }] },
  });
  const got = await server.grpc.policies.getPolicy({ resource: org });
  expect(Buffer.from(got.etag)).toEqual(set.etag);
  expect(got.bindings.map((b) => [b.role, b.members])).toEqual([["roles/collaborator", ["group:ug_42", "user:bob@example.com"]]]);
});

test("a stale etag fails with status ABORTED (10)", async () => {
  const org = await createOrganization();
  const { etag } = await grpcJsResponse(policies, "GetPolicy", { resource: org });
  await grpcJsResponse(policies, "SetPolicy", { resource: org, policy: { bindings: [{ role: "roles/owner", members: ["allUsers"] }] } });
  const error = await grpcJsError(
    grpcJsResponse(policies, "SetPolicy", { resource: org, policy: { etag, bindings: [{ role: "roles/owner", members: ["user:b@example.com"] }] } }),
  );
  expect(error.code).toBe(grpc.status.ABORTED);
  expect(error.details).toMatch(/read it again/);
});

test("an unknown resource fails with status NOT_FOUND (5)", async () => {
  const error = await grpcJsError(grpcJsResponse(policies, "GetPolicy", { resource: `projects/${uniqueId("missing")}` }));
  expect(error.code).toBe(grpc.status.NOT_FOUND);
});

test("an invalid member fails with INVALID_ARGUMENT (3) and a google.rpc.BadRequest in grpc-status-details-bin", async () => {
  const org = await createOrganization();
  const error = await grpcJsError(
    grpcJsResponse(policies, "SetPolicy", {
      resource: org,
      policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com", "ada"] }] },
    }),
  );
  expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);

  const [detailsBin] = error.metadata.get("grpc-status-details-bin") as Buffer[];
  expect(detailsBin).toBeDefined();
  const status = fromBinary(StatusSchema, detailsBin!);
  expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
  const badRequests = status.details.map((any) => anyUnpack(any, BadRequestSchema)).filter((d) => d !== undefined);
  expect(badRequests).toHaveLength(1);
  expect(badRequests[0]!.fieldViolations).toEqual([
    expect.objectContaining({ field: "policy.bindings[0].members[1]", description: expect.stringContaining("ada") }),
  ]);
});
