// A deny policy's rules as written: the bounds on their size, the checks of principals and permissions, the canonical
// form (sorted, duplicates dropped), and which pattern covers a permission. Unit tests of domain/deny-rules.ts, with
// the field paths a caller sees in the INVALID_ARGUMENT's field violations.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, test } from "vitest";
import { DenyRuleSchema, type DenyRule } from "../../gen/policy/v1/deny_policy_pb.js";
import {
  MAX_DENY_DESCRIPTION,
  MAX_DENY_PERMISSIONS,
  MAX_DENY_PRINCIPALS,
  MAX_DENY_RULES,
  PermissionPatterns,
  canonicalDenyRules,
} from "../../src/domain/deny-rules.js";
import { Violations } from "../../src/service-error.js";
import { defaultSchema } from "../helpers/fixtures.js";

const rule = (init: Omit<MessageInitShape<typeof DenyRuleSchema>, "$typeName"> = {}): DenyRule =>
  create(DenyRuleSchema, { deniedPrincipals: ["user:ada@example.com"], deniedPermissions: ["projects.delete"], ...init });

/** The violations of writing `rules`, as "field: description". */
function problems(rules: DenyRule[]): string[] {
  const violations = new Violations();
  canonicalDenyRules(rules, defaultSchema, violations, "deny_policy.rules");
  return violations.list.map((v) => `${v.field}: ${v.description}`);
}

describe("bounds", () => {
  test(`at most ${MAX_DENY_RULES} rules`, () => {
    expect(problems(Array.from({ length: MAX_DENY_RULES }, () => rule()))).toEqual([]);
    expect(problems(Array.from({ length: MAX_DENY_RULES + 1 }, () => rule()))).toEqual([
      `deny_policy.rules: ${MAX_DENY_RULES + 1} rules; at most ${MAX_DENY_RULES}`,
    ]);
  });

  test(`a description of at most ${MAX_DENY_DESCRIPTION} characters`, () => {
    expect(problems([rule({ description: "d".repeat(MAX_DENY_DESCRIPTION) })])).toEqual([]);
    expect(problems([rule({ description: "d".repeat(MAX_DENY_DESCRIPTION + 1) })])).toEqual([
      `deny_policy.rules[0].description: longer than ${MAX_DENY_DESCRIPTION} characters`,
    ]);
  });

  test(`at most ${MAX_DENY_PRINCIPALS} denied and exception principals together`, () => {
    const users = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `user:${prefix}${i}@example.com`);
    const half = MAX_DENY_PRINCIPALS / 2;
    expect(problems([rule({ deniedPrincipals: users(half, "d"), exceptionPrincipals: users(half, "e") })])).toEqual([]);
    expect(problems([rule({ deniedPrincipals: users(half, "d"), exceptionPrincipals: users(half + 1, "e") })])).toEqual([
      `deny_policy.rules[0]: at most ${MAX_DENY_PRINCIPALS} denied and exception principals per rule`,
    ]);
  });

  test(`at most ${MAX_DENY_PERMISSIONS} denied and exception permissions together`, () => {
    const known = [...defaultSchema.permissions];
    const many = (n: number) => Array.from({ length: n }, (_, i) => known[i % known.length]!);
    const half = MAX_DENY_PERMISSIONS / 2;
    expect(problems([rule({ deniedPermissions: many(half), exceptionPermissions: many(half) })])).toEqual([]);
    expect(problems([rule({ deniedPermissions: many(half), exceptionPermissions: many(half + 1) })])).toEqual([
      `deny_policy.rules[0]: at most ${MAX_DENY_PERMISSIONS} denied and exception permissions per rule`,
    ]);
  });
});

describe("what a rule needs and names", () => {
  test("at least one denied principal and one denied permission, each reported at its field", () => {
    expect(problems([rule(), rule({ deniedPrincipals: [], deniedPermissions: [] })])).toEqual([
      "deny_policy.rules[1].denied_principals: a deny rule needs at least one denied principal",
      "deny_policy.rules[1].denied_permissions: a deny rule needs at least one denied permission",
    ]);
  });

  test("unknown principals and permissions are reported at their index, exceptions included", () => {
    expect(
      problems([rule({ exceptionPrincipals: ["nobody"], exceptionPermissions: ["projects.fly", "nothing.*"] })]),
    ).toEqual([
      expect.stringMatching(/^deny_policy\.rules\[0\]\.exception_principals\[0\]: ./),
      `deny_policy.rules[0].exception_permissions[0]: "projects.fly" is not a permission the schema knows, nor {collection}.* of a known collection, nor *`,
      `deny_policy.rules[0].exception_permissions[1]: "nothing.*" is not a permission the schema knows, nor {collection}.* of a known collection, nor *`,
    ]);
  });

  test("the canonical rule: principals and permissions sorted, duplicates dropped, patterns kept", () => {
    const violations = new Violations();
    const [canonical] = canonicalDenyRules(
      [
        rule({
          deniedPrincipals: ["user:Zed@example.com", "user:ada@example.com", "user:zed@example.com"],
          deniedPermissions: ["projects.update", "projects.delete", "projects.update", "clouds.*"],
          exceptionPrincipals: ["user:b@example.com", "user:a@example.com"],
          exceptionPermissions: ["projects.get", "*", "projects.get"],
        }),
      ],
      defaultSchema,
      violations,
      "rules",
    );
    expect(violations.list).toEqual([]);
    expect(canonical).toMatchObject({
      deniedPrincipals: ["user:ada@example.com", "user:zed@example.com"],
      deniedPermissions: ["clouds.*", "projects.delete", "projects.update"],
      exceptionPrincipals: ["user:a@example.com", "user:b@example.com"],
      exceptionPermissions: ["*", "projects.get"],
    });
  });
});

describe("PermissionPatterns: which pattern covers a permission", () => {
  test("an exact permission, a collection's .*, or *; the exact one first", () => {
    const patterns = new PermissionPatterns(["projects.delete", "clouds.*"]);
    expect(patterns.match("projects.delete")).toBe("projects.delete");
    expect(patterns.match("clouds.update")).toBe("clouds.*");
    expect(patterns.match("projects.update")).toBeUndefined();
    expect(patterns.match("organizations.get")).toBeUndefined();
    expect(new PermissionPatterns(["*", "projects.delete"]).match("projects.delete")).toBe("projects.delete");
    expect(new PermissionPatterns(["*"]).match("clouds.get")).toBe("*");
  });

  test("a pattern is not an exact permission: `clouds.*` does not match the permission named `clouds.*`, nor * `*`", () => {
    expect(new PermissionPatterns(["clouds.*"]).match("organizations.*")).toBeUndefined();
    expect(new PermissionPatterns(["projects.*"]).match("*")).toBeUndefined();
    expect(new PermissionPatterns([]).match("projects.get")).toBeUndefined();
  });
});
