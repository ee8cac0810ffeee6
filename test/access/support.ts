// Helpers of the access-check tests: clients with AccessService, a seeded hierarchy, grants, checks, the
// `policy-sequence` consistency token, bounded retries and a second server process on the same database.
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import type { CallOptions, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";
import { AccessState, type CheckAccessResponse } from "../../gen/policy/v1/access_service_pb.js";
import type { Policy } from "../../gen/policy/v1/policy_pb.js";
import type { ApiClients } from "../helpers/clients.js";
import { fieldViolations } from "../helpers/call-failures.js";
import { uniqueId } from "../helpers/ids.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
export { apiClients } from "../helpers/clients.js";
export { expectCode, failureOf } from "../helpers/call-failures.js";
export { uniqueId } from "../helpers/ids.js";

export { AccessState };

export type Protocol = "grpc" | "connect";
export const PROTOCOLS: readonly Protocol[] = ["grpc", "connect"];

/** The clients of test/helpers, over one protocol. */
export type Api = ApiClients;

export interface AccessTestServer {
  server: TestServer;
  grpc: Api;
  connect: Api;
  stop(): Promise<void>;
}

/** The real server on a random port with a fresh database, with gRPC and Connect JSON clients. */
export async function startAccessServer(): Promise<AccessTestServer> {
  const server = await startTestServer();
  return { server, grpc: server.grpc, connect: server.connect, stop: () => server.stop() };
}

/**
 * organizations/{org}
 *   clouds/{cloud}       projects/{project}        (prj_ prefix)
 *   clouds/{otherCloud}  projects/{otherProject}   (prj_ prefix)
 *   projects/{orgProject}                          (directly under the organization, no prj_ prefix)
 */
export interface Tree {
  org: string;
  cloud: string;
  project: string;
  otherCloud: string;
  otherProject: string;
  orgProject: string;
}

export async function createTree(api: Api): Promise<Tree> {
  const tree: Tree = {
    org: `organizations/${uniqueId("org_")}`,
    cloud: `clouds/${uniqueId("cld_")}`,
    project: `projects/${uniqueId("prj_")}`,
    otherCloud: `clouds/${uniqueId("cld_")}`,
    otherProject: `projects/${uniqueId("prj_")}`,
    orgProject: `projects/${uniqueId("legacy_")}`,
  };
  await createResource(api, tree.org, "");
  await createResource(api, tree.cloud, tree.org);
  await createResource(api, tree.project, tree.cloud);
  await createResource(api, tree.otherCloud, tree.org);
  await createResource(api, tree.otherProject, tree.otherCloud);
  await createResource(api, tree.orgProject, tree.org);
  return tree;
}

export async function createResource(api: Api, name: string, parent: string): Promise<void> {
  await api.resources.createResource({ resource: { name, parent } });
}

export interface Grant {
  role: string;
  members: string[];
  /** A CEL condition; the policy is then written as version 3. */
  condition?: string;
  title?: string;
}

/**
 * Replaces the policy of `resource` with these bindings. It sends the current etag (read at version 3), as a
 * read-modify-write does, so that replacing conditional bindings is a deliberate overwrite.
 */
export async function setBindings(api: Api, resource: string, ...grants: Grant[]): Promise<Policy> {
  const conditional = grants.some((g) => g.condition !== undefined);
  const current = await api.policies.getPolicy({ resource, options: { requestedPolicyVersion: 3 } });
  return api.policies.setPolicy({
    resource,
    policy: {
      etag: current.etag,
      version: conditional ? 3 : 1,
      bindings: grants.map((g) => ({
        role: g.role,
        members: g.members,
        condition: g.condition === undefined ? undefined : { expression: g.condition, title: g.title ?? "" },
      })),
    },
  });
}

/** The state of one permission for `principals` on `resource`, by name (e.g. "GRANTED"). */
export async function stateOf(
  api: Api,
  resource: string,
  principals: string[],
  permission: string,
  attributes: Record<string, JsonValue> = {},
): Promise<string> {
  const response = await api.access.checkAccess({
    resource,
    principals,
    permissions: [permission],
    attributes: attributeValues(attributes),
  });
  expect(response.results).toHaveLength(1);
  return stateName(response.results[0]!.state);
}

/** Request attributes given as JSON, as the google.protobuf.Value map of CheckAccessRequest. */
export function attributeValues(attributes: Record<string, JsonValue>): Record<string, Value> {
  return Object.fromEntries(Object.entries(attributes).map(([key, value]) => [key, fromJson(ValueSchema, value)]));
}

/** The state's enum name, so that a failing assertion reads "GRANTED" rather than 1. */
export function stateName(state: AccessState): string {
  return AccessState[state] ?? String(state);
}

export interface Question {
  resource: string;
  principals: string[];
  permissions: string[];
}

/** The check of `permissions` with `explain`, for assertions on its explanations. */
export async function explained(api: Api, question: Question): Promise<CheckAccessResponse> {
  return api.access.checkAccess({ ...question, explain: true });
}

/** The google.rpc.BadRequest field violations of `error` as "field: description" lines. */
export function violationsOf(error: ConnectError): string[] {
  return fieldViolations(error).map((v) => `${v.field}: ${v.description}`);
}

/** Runs a write and returns its response with the `policy-sequence` header it carried. */
export async function withSequence<T>(write: (options: CallOptions) => Promise<T>): Promise<{ response: T; sequence: bigint }> {
  let header: string | null = null;
  const response = await write({ onHeader: (headers) => (header = headers.get("policy-sequence")) });
  expect(header, "the write's response has a policy-sequence header").not.toBeNull();
  expect(header).toMatch(/^\d+$/);
  return { response, sequence: BigInt(header!) };
}
