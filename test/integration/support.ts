// Small helpers shared by the integration tests: expected failures, unique names, a seeded hierarchy.
import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";
import { BadRequestSchema, type BadRequest_FieldViolation } from "../../gen/google/rpc/error_details_pb.js";
import type { Clients } from "../helpers/server.js";

/** The ConnectError `call` failed with; fails the test when the call succeeded. */
export async function failureOf(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (e) {
    return ConnectError.from(e);
  }
  return expect.fail("expected the call to fail, but it succeeded");
}

/** Asserts that `call` fails with `code`; returns the error. */
export async function expectCode(call: Promise<unknown>, code: Code): Promise<ConnectError> {
  const error = await failureOf(call);
  expect(Code[error.code], error.message).toBe(Code[code]);
  return error;
}

/** The field violations of the google.rpc.BadRequest detail of `error`. */
export function fieldViolations(error: ConnectError): BadRequest_FieldViolation[] {
  return error.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations);
}

let counter = 0;

/** A resource id no other test in this process uses. */
export function uniqueId(prefix = "r"): string {
  return `${prefix}${++counter}`;
}

export interface Hierarchy {
  org: string;
  cloud: string;
  project: string;
}

/** Creates a fresh organization with one cloud holding one project. */
export async function createHierarchy(clients: Clients): Promise<Hierarchy> {
  const org = `organizations/${uniqueId("org")}`;
  const cloud = `clouds/${uniqueId("cld")}`;
  const project = `projects/${uniqueId("prj")}`;
  await clients.resources.createResource({ resource: { name: org } });
  await clients.resources.createResource({ resource: { name: cloud, parent: org } });
  await clients.resources.createResource({ resource: { name: project, parent: cloud } });
  return { org, cloud, project };
}

/** A binding of `role` to `members`. */
export function binding(role: string, ...members: string[]) {
  return { role, members };
}
