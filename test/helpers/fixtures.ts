// Fixtures of the unit tests of src/domain/ (test/domain/, test/access/): the built-in schema, policy builders and
// error matchers.
import { create } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { expect } from "vitest";
import {
  BindingSchema,
  ExprSchema,
  PolicySchema,
  type Binding,
  type Policy,
} from "../../gen/policy/v1/policy_pb.js";
import { ServiceError, type ErrorCode } from "../../src/service-error.js";
import { parseSchema } from "../../src/schema/schema-loader.js";
import type { ResourceSchema, ResourceType } from "../../src/schema/schema.js";

export const DEFAULT_SCHEMA_PATH = new URL("../../schema/default.yaml", import.meta.url);

export const defaultSchema: ResourceSchema = parseSchema(readFileSync(DEFAULT_SCHEMA_PATH, "utf8"), "default.yaml");

export function typeNamed(name: string): ResourceType {
  const type = defaultSchema.types.get(name);
  if (!type) throw new Error(`no type ${name} in the default schema`);
  return type;
}

export const organization = typeNamed("organization");
export const cloud = typeNamed("cloud");
export const project = typeNamed("project");

export const BEFORE_2027 = 'request.time < timestamp("2027-01-01T00:00:00Z")';

export function binding(role: string, members: string[], expression?: string, title = ""): Binding {
  return create(BindingSchema, {
    role,
    members,
    condition: expression === undefined ? undefined : create(ExprSchema, { expression, title }),
  });
}

export function policy(init: { version?: number; bindings?: Binding[]; etag?: Uint8Array } = {}): Policy {
  return create(PolicySchema, { version: 1, ...init });
}

/** Runs `fn`, expecting a ServiceError with `code`; returns it for further assertions. */
export function serviceError(fn: () => unknown, code: ErrorCode): ServiceError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, "expected a ServiceError to be thrown").toBeInstanceOf(ServiceError);
  const error = thrown as ServiceError;
  expect(error.code).toBe(code);
  return error;
}
