// Responses do not echo unbounded input (issue 13, item 3): a long bad name, a huge member or thousands of bad
// bindings give INVALID_ARGUMENT with a short message and short details, on both ports and to a default grpc-js client
// (which refuses response metadata over 8 KB as RESOURCE_EXHAUSTED); names and members have a length limit.
import * as grpc from "@grpc/grpc-js";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { MAX_MESSAGE_BYTES } from "../../src/rpc/connect-errors.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { grpcJsClients, grpcJsError as grpcError, grpcJsResponse as call, type GrpcJsClients } from "../helpers/grpc-js.js";
import { failureOf } from "../helpers/call-failures.js";

let server: TestServer;
let mainPort: GrpcJsClients;
let grpcPort: GrpcJsClients;
const ORG = "organizations/echo";

beforeAll(async () => {
  server = await startTestServer();
  await server.grpc.resources.createResource({ resource: { name: ORG } });
  mainPort = await grpcJsClients(`127.0.0.1:${server.port}`);
  grpcPort = await grpcJsClients(server.grpcAddress);
});
afterAll(async () => {
  mainPort?.close();
  grpcPort?.close();
  await server?.stop();
});

const LONG_NAMES = [1_242, 10_000].map((n) => `projects/${"x".repeat(n)}`);
const EMPTY_BINDINGS = Array.from({ length: 5_000 }, () => ({ role: "roles/owner", members: [] }));

describe.each([
  ["main port", () => mainPort],
  ["gRPC port", () => grpcPort],
])("a default grpc-js client on the %s", (_, clients) => {
  test.each(LONG_NAMES)("a bad name of %#: INVALID_ARGUMENT with a short message", async (name) => {
    const error = await grpcError(call(clients().policies, "GetPolicy", { resource: name }));
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(Buffer.byteLength(error.details)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(error.details).toMatch(/\(\d+ characters\)/);
  });

  test("5,000 empty bindings: INVALID_ARGUMENT, the first problems reported and the rest counted", async () => {
    const error = await grpcError(call(clients().policies, "SetPolicy", { resource: ORG, policy: { bindings: EMPTY_BINDINGS } }));
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(Buffer.byteLength(error.details)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(error.details).toMatch(/more problems/);
    const details = error.metadata.get("grpc-status-details-bin")[0] as Buffer;
    expect(details.length).toBeLessThan(4_096);
  });
});

describe("length limits", () => {
  test("a 3.9 MB member is refused, and the message stays short", async () => {
    const member = `user:${"a".repeat(3_900_000)}@example.com`;
    const error = await failureOf(
      server.grpc.policies.setPolicy({ resource: ORG, policy: { bindings: [{ role: "roles/owner", members: [member] }] } }, { timeoutMs: 30_000 }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toMatch(/longer than 512 characters/);
    expect(error.rawMessage.length).toBeLessThan(MAX_MESSAGE_BYTES);
    const violations = error.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations);
    expect(violations.map((v) => v.field)).toEqual(["policy.bindings[0].members[0]"]);
    expect((await server.grpc.policies.getPolicy({ resource: ORG })).bindings).toEqual([]);
  });

  test("a name over 256 characters is refused even in a valid shape", async () => {
    const error = await failureOf(server.connect.resources.createResource({ resource: { name: `organizations/${"a".repeat(300)}` } }));
    expect(error).toBeInstanceOf(ConnectError);
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toMatch(/longer than 256 characters/);
  });
});
