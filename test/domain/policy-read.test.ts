import { create } from "@bufbuild/protobuf";
import { describe, expect, test } from "vitest";
import { BindingSchema, ExprSchema, type Binding, type Policy } from "../../gen/policy/v1/policy_pb.js";
import { checkRequestedVersion, policyForVersion } from "../../src/domain/policy-read.js";
import { BEFORE_2027, binding, policy, serviceError } from "../helpers/fixtures.js";

const WITHCOND = /^(roles\/[a-z]+)_withcond_([0-9a-f]{20})$/;

const ada = binding("roles/owner", ["user:ada@example.com"]);
const bobUntil2027 = binding("roles/readonly", ["user:bob@example.com"], BEFORE_2027);
const carolOnProjects = binding("roles/readonly", ["user:carol@example.com"], 'resource.type == "project"');

function storedPolicy(bindings: Binding[]): Policy {
  return policy({ version: bindings.some((b) => b.condition) ? 3 : 1, bindings, etag: new Uint8Array([7, 7]) });
}

function renamedRole(b: Binding): string {
  const readBack = policyForVersion(storedPolicy([b]), 1).bindings[0];
  expect(readBack.role).toMatch(WITHCOND);
  return readBack.role;
}

describe("policyForVersion", () => {
  test.each([0, 1, 3])("a policy without conditions reads back as version 1 when %i is requested", (requested) => {
    const read = policyForVersion(storedPolicy([ada]), requested);
    expect(read.version).toBe(1);
    expect(read.bindings).toEqual([ada]);
  });

  test("a version-3 reader gets the conditional policy as stored", () => {
    const stored = storedPolicy([ada, bobUntil2027]);
    const read = policyForVersion(stored, 3);
    expect(read.version).toBe(3);
    expect(read.bindings).toEqual(stored.bindings);
    expect(read.etag).toEqual(stored.etag);
  });

  test.each([0, 1])("a version-%i reader gets conditional bindings renamed and without condition", (requested) => {
    const read = policyForVersion(storedPolicy([ada, bobUntil2027]), requested);
    expect(read.version).toBe(1);
    expect(read.bindings[0]).toEqual(ada);
    const renamed = read.bindings[1];
    expect(renamed.role).toMatch(WITHCOND);
    expect(renamed.role.startsWith("roles/readonly_withcond_")).toBe(true);
    expect(renamed.condition).toBeUndefined();
    expect(renamed.members).toEqual(["user:bob@example.com"]);
  });

  test("a version-1 read keeps the etag, so the reader can still write conditionally", () => {
    const stored = storedPolicy([bobUntil2027]);
    expect(policyForVersion(stored, 1).etag).toEqual(stored.etag);
  });

  test("the hash is stable for the same condition", () => {
    const again = binding("roles/readonly", ["user:someone-else@example.com"], BEFORE_2027);
    expect(renamedRole(again)).toBe(renamedRole(bobUntil2027));
  });

  test("the hash differs for different conditions", () => {
    const a = binding("roles/readonly", ["user:bob@example.com"], BEFORE_2027);
    const b = binding("roles/readonly", ["user:bob@example.com"], 'request.time < timestamp("2028-01-01T00:00:00Z")');
    expect(renamedRole(a)).not.toBe(renamedRole(b));
  });

  test("the hash covers the condition's title too", () => {
    const titled = binding("roles/readonly", ["user:bob@example.com"], BEFORE_2027, "Until 2027");
    expect(renamedRole(titled)).not.toBe(renamedRole(bobUntil2027));
  });

  test("two conditional bindings of one role read back as two distinct roles", () => {
    const read = policyForVersion(storedPolicy([bobUntil2027, carolOnProjects]), 1);
    const roles = read.bindings.map((b) => b.role);
    expect(new Set(roles).size).toBe(2);
    for (const role of roles) expect(role).toMatch(WITHCOND);
  });

  test("the stored policy is not modified by a version-1 read", () => {
    const stored = storedPolicy([bobUntil2027]);
    policyForVersion(stored, 1);
    expect(stored.version).toBe(3);
    expect(stored.bindings[0].condition?.expression).toBe(BEFORE_2027);
    expect(stored.bindings[0].role).toBe("roles/readonly");
  });

  test("a condition built by hand hashes like the same condition built elsewhere", () => {
    const byHand = create(BindingSchema, {
      role: "roles/readonly",
      members: ["user:bob@example.com"],
      condition: create(ExprSchema, { expression: BEFORE_2027 }),
    });
    expect(renamedRole(byHand)).toBe(renamedRole(bobUntil2027));
  });
});

describe("checkRequestedVersion", () => {
  test.each([0, 1, 3])("%i is accepted", (version) => {
    expect(() => checkRequestedVersion(version, "options.requested_policy_version")).not.toThrow();
  });

  test.each([2, 4, -1])("%i is INVALID_ARGUMENT on the named field", (version) => {
    const error = serviceError(() => checkRequestedVersion(version, "options.requested_policy_version"), "invalid_argument");
    expect(error.violations).toEqual([
      { field: "options.requested_policy_version", description: `must be 0, 1 or 3 (got ${version})` },
    ]);
  });
});
