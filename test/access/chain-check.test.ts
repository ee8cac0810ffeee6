// Unit tests of the pieces under CheckAccess: which members a Subject matches, and how a check walks the chain from a
// resource to the root and reports its decisions.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampNow } from "@bufbuild/protobuf/wkt";
import { describe, expect, test } from "vitest";
import { AccessState, type PermissionCheck } from "../../gen/policy/v1/access_service_pb.js";
import { BindingSchema, ExprSchema, PolicySchema, type Binding } from "../../gen/policy/v1/policy_pb.js";
import type { CheckInput } from "../../src/domain/access/chain-check.js";
import { Subject } from "../../src/domain/access/subject.js";
import { Violations } from "../../src/service-error.js";
import { parseSchema } from "../../src/schema/schema-loader.js";
import { readFileSync } from "node:fs";
import { ChainTree } from "../helpers/chain-tree.js";

const schema = parseSchema(readFileSync(new URL("../../schema/default.yaml", import.meta.url), "utf8"), "default.yaml");

function subject(...principals: string[]): Subject {
  const violations = new Violations();
  const made = Subject.of(principals, violations, "principals");
  expect(violations.list).toEqual([]);
  return made;
}

function problemsWith(...principals: string[]): string[] {
  const violations = new Violations();
  Subject.of(principals, violations, "principals");
  return violations.list.map((v) => v.field);
}

function matches(s: Subject, member: string): boolean {
  return s.matchIn(new Set([member])) === member;
}

describe("Subject", () => {
  test("a user matches itself, its domain, allAuthenticatedUsers and allUsers", () => {
    const ada = subject("user:ada@example.com");
    for (const member of ["user:ada@example.com", "domain:example.com", "allAuthenticatedUsers", "allUsers"]) {
      expect(matches(ada, member), member).toBe(true);
    }
    for (const member of ["user:bob@example.com", "domain:example.org", "group:ug_abc123", "serviceAccount:ada@example.com"]) {
      expect(matches(ada, member), member).toBe(false);
    }
  });

  test("a service account matches its domain too", () => {
    expect(matches(subject("serviceAccount:ci@build.example.com"), "domain:build.example.com")).toBe(true);
  });

  test("a group principal adds the group, but no domain, even when the group id is an email", () => {
    const s = subject("user:ada@example.com", "group:eng@corp.example");
    expect(matches(s, "group:eng@corp.example")).toBe(true);
    expect(matches(s, "domain:corp.example")).toBe(false);
    expect(matches(s, "domain:example.com")).toBe(true);
  });

  test("a deleted member never matches the live principal of the same name; a deleted principal is not a subject", () => {
    const ada = subject("user:ada@example.com", "group:admins@example.com");
    expect(matches(ada, "deleted:user:ada@example.com?uid=42")).toBe(false);
    expect(matches(ada, "deleted:group:admins@example.com?uid=42")).toBe(false);
    expect(problemsWith("deleted:user:ada@example.com?uid=42")).toEqual(["principals[0]"]);
  });

  test("a federated identity matches its exact principal:// or principalSet:// member, and no domain", () => {
    const workload = "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/subject/app";
    const pool = "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/*";
    const s = subject(workload, pool);
    expect(matches(s, workload)).toBe(true);
    expect(matches(s, pool)).toBe(true);
    expect(matches(s, `${workload}2`)).toBe(false);
    expect(matches(s, "allAuthenticatedUsers")).toBe(true);
  });

  test("the anonymous subject matches allUsers only", () => {
    const anonymous = subject();
    expect(matches(anonymous, "allUsers")).toBe(true);
    expect(matches(anonymous, "allAuthenticatedUsers")).toBe(false);
  });

  test("emails are compared case-insensitively", () => {
    expect(matches(subject("user:Ada@EXAMPLE.com"), "user:ada@example.com")).toBe(true);
    expect(matches(subject("user:Ada@EXAMPLE.com"), "domain:example.com")).toBe(true);
  });

  test("the most specific member is reported first", () => {
    const members = new Set(["allUsers", "domain:example.com", "user:ada@example.com"]);
    expect(subject("user:ada@example.com").matchIn(members)).toBe("user:ada@example.com");
    expect(subject("user:bob@example.com").matchIn(members)).toBe("domain:example.com");
    expect(subject().matchIn(members)).toBe("allUsers");
  });

  test("malformed principals are each reported with their index", () => {
    expect(problemsWith("user:ada@example.com", "ada", "domain:example.com", "allUsers", "group:")).toEqual([
      "principals[1]",
      "principals[2]",
      "principals[3]",
      "principals[4]",
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------------------

function binding(role: string, members: string[], expression?: string): Binding {
  return create(BindingSchema, {
    role,
    members,
    condition: expression === undefined ? undefined : create(ExprSchema, { expression }),
  });
}

function policyOf(...bindings: Binding[]) {
  return create(PolicySchema, { version: 3, bindings });
}

function input(principals: string[], permissions: string[], extra: Partial<CheckInput> = {}): CheckInput {
  return {
    subject: subject(...principals),
    permissions,
    attributes: new Map(),
    requestTime: timestampNow(),
    explain: true,
    ...extra,
  };
}

function states(results: PermissionCheck[] | undefined): Record<string, string> {
  expect(results).toBeDefined();
  return Object.fromEntries(results!.map((r) => [r.permission, AccessState[r.state]]));
}

/** organizations/o > clouds/c > projects/p, and projects/q directly under the organization. */
function seededTree(): ChainTree {
  const tree = new ChainTree(schema);
  tree.putResource("organizations/o", "", "organization");
  tree.putResource("clouds/c", "organizations/o", "cloud");
  tree.putResource("clouds/d", "organizations/o", "cloud");
  tree.putResource("projects/p", "clouds/c", "project");
  tree.putResource("projects/q", "organizations/o", "project");
  return tree;
}

const ADA = "user:ada@example.com";

describe("checkChain", () => {
  test("an unknown resource has no answer", () => {
    expect(seededTree().check("projects/nowhere", input([ADA], ["projects.get"]))).toBeUndefined();
  });

  test("a role applies at its resource and below, not above or beside", () => {
    const tree = seededTree();
    tree.setPolicy("clouds/c", policyOf(binding("roles/collaborator", [ADA])));
    expect(states(tree.check("projects/p", input([ADA], ["projects.delete"])))).toEqual({ "projects.delete": "GRANTED" });
    expect(states(tree.check("clouds/c", input([ADA], ["clouds.delete"])))).toEqual({ "clouds.delete": "GRANTED" });
    expect(states(tree.check("organizations/o", input([ADA], ["organizations.get"])))).toEqual({ "organizations.get": "NOT_GRANTED" });
    expect(states(tree.check("projects/q", input([ADA], ["projects.get"])))).toEqual({ "projects.get": "NOT_GRANTED" });
  });

  test("a role the resource's type cannot grant is ignored (e.g. roles/readonly on an organization)", () => {
    const tree = seededTree();
    tree.setPolicy("organizations/o", policyOf(binding("roles/readonly", [ADA])));
    expect(states(tree.check("projects/p", input([ADA], ["projects.get"])))).toEqual({ "projects.get": "NOT_GRANTED" });
  });

  test("the permissions of a role are those of the type it is granted on: collaborator differs by level", () => {
    const tree = seededTree();
    tree.setPolicy("projects/p", policyOf(binding("roles/collaborator", [ADA])));
    tree.setPolicy("clouds/d", policyOf(binding("roles/collaborator", [ADA])));
    tree.putResource("projects/r", "clouds/d", "project");
    expect(states(tree.check("projects/p", input([ADA], ["projects.update", "projects.delete"])))).toEqual({
      "projects.update": "GRANTED",
      "projects.delete": "NOT_GRANTED",
    });
    expect(states(tree.check("projects/r", input([ADA], ["projects.update", "projects.delete"])))).toEqual({
      "projects.update": "GRANTED",
      "projects.delete": "GRANTED",
    });
  });

  test("a chain through a new parent grants what the new parent grants", () => {
    const tree = seededTree();
    tree.setPolicy("clouds/d", policyOf(binding("roles/readonly", [ADA])));
    expect(states(tree.check("projects/p", input([ADA], ["projects.get"])))).toEqual({ "projects.get": "NOT_GRANTED" });
    tree.putResource("projects/p", "clouds/d", "project");
    expect(states(tree.check("projects/p", input([ADA], ["projects.get"])))).toEqual({ "projects.get": "GRANTED" });
  });

  test("an emptied policy stops granting; a resource without a chain has no answer", () => {
    const tree = seededTree();
    tree.setPolicy("projects/q", policyOf(binding("roles/owner", [ADA])));
    tree.setPolicy("projects/q", undefined);
    expect(states(tree.check("projects/q", input([ADA], ["projects.get"])))).toEqual({ "projects.get": "NOT_GRANTED" });
    tree.setPolicy("projects/q", policyOf(binding("roles/owner", [ADA])));
    tree.deleteResource("projects/q");
    expect(tree.check("projects/q", input([ADA], ["projects.get"]))).toBeUndefined();
    tree.putResource("projects/q", "organizations/o", "project");
    expect(states(tree.check("projects/q", input([ADA], ["projects.get"])))).toEqual({ "projects.get": "NOT_GRANTED" });
  });

  test("explanations run from the resource up to the root, with the resource each binding is attached to", () => {
    const tree = seededTree();
    tree.setPolicy("organizations/o", policyOf(binding("roles/owner", ["domain:example.com"])));
    tree.setPolicy("clouds/c", policyOf(binding("roles/readonly", [ADA])));
    tree.setPolicy("projects/p", policyOf(binding("roles/owner", ["user:bob@example.com"])));
    const [check] = tree.check("projects/p", input([ADA], ["projects.get"]))!;
    expect(check!.explanations.map((e) => [e.resource, e.role, e.matchedMember, AccessState[e.state]])).toEqual([
      ["projects/p", "roles/owner", "", "NOT_GRANTED"],
      ["clouds/c", "roles/readonly", ADA, "GRANTED"],
      ["organizations/o", "roles/owner", "domain:example.com", "GRANTED"],
    ]);
  });

  test("without explain, a result carries no explanations", () => {
    const tree = seededTree();
    tree.setPolicy("clouds/c", policyOf(binding("roles/readonly", [ADA])));
    const [check] = tree.check("projects/p", input([ADA], ["projects.get"], { explain: false }))!;
    expect(AccessState[check!.state]).toBe("GRANTED");
    expect(check!.explanations).toEqual([]);
  });

  describe("conditions", () => {
    const DEADLINE = Date.parse("2030-01-01T00:00:00Z");
    const BEFORE_DEADLINE = 'request.time < timestamp("2030-01-01T00:00:00Z")';

    test("a time window holds before its end and not after", () => {
      const tree = seededTree();
      tree.setPolicy("organizations/o", policyOf(binding("roles/owner", [ADA], BEFORE_DEADLINE)));
      const at = (ms: number) => states(tree.check("projects/p", input([ADA], ["projects.delete"], { requestTime: timestampFromMs(ms) })));
      expect(at(DEADLINE - 1000)).toEqual({ "projects.delete": "GRANTED" });
      expect(at(DEADLINE)).toEqual({ "projects.delete": "NOT_GRANTED" });
      expect(at(DEADLINE + 86_400_000)).toEqual({ "projects.delete": "NOT_GRANTED" });
    });

    test("resource.name and resource.type are those of the resource checked", () => {
      const tree = seededTree();
      tree.setPolicy("organizations/o", policyOf(
        binding("roles/owner", [ADA], 'resource.name.startsWith("projects/") && resource.type == "project"'),
      ));
      expect(states(tree.check("projects/p", input([ADA], ["projects.get"])))).toEqual({ "projects.get": "GRANTED" });
      expect(states(tree.check("clouds/c", input([ADA], ["clouds.get"])))).toEqual({ "clouds.get": "NOT_GRANTED" });
    });

    test("a missing attribute is UNKNOWN_CONDITIONAL for the permission and in the explanation", () => {
      const tree = seededTree();
      tree.setPolicy("clouds/c", policyOf(binding("roles/readonly", [ADA], 'request.attributes["ip"] == "10.0.0.1"')));
      const [check] = tree.check("projects/p", input([ADA], ["projects.get"]))!;
      expect(AccessState[check!.state]).toBe("UNKNOWN_CONDITIONAL");
      expect(AccessState[check!.explanations[0]!.state]).toBe("UNKNOWN_CONDITIONAL");
      const withIp = tree.check("projects/p", input([ADA], ["projects.get"], { attributes: new Map([["ip", "10.0.0.1"]]) }));
      expect(states(withIp)).toEqual({ "projects.get": "GRANTED" });
    });

    test("a stored condition that no longer compiles never grants, and says so", () => {
      const tree = seededTree();
      tree.setPolicy("clouds/c", policyOf(binding("roles/readonly", [ADA], "request.time <")));
      const [check] = tree.check("projects/p", input([ADA], ["projects.get"]))!;
      expect(AccessState[check!.state]).toBe("UNKNOWN_CONDITIONAL");
      expect(check!.explanations[0]!.reason).toMatch(/invalid/);
    });

    test("a condition that fails on some input only (division by zero) is UNKNOWN_CONDITIONAL there, never a throw", () => {
      const tree = seededTree();
      tree.setPolicy("clouds/c", policyOf(binding("roles/readonly", [ADA], '10 / int(request.attributes["d"]) > 1')));
      const withD = (d: number) =>
        states(tree.check("projects/p", input([ADA], ["projects.get"], { attributes: new Map([["d", d]]) })));
      expect(withD(2)).toEqual({ "projects.get": "GRANTED" });
      expect(withD(20)).toEqual({ "projects.get": "NOT_GRANTED" });
      expect(withD(0)).toEqual({ "projects.get": "UNKNOWN_CONDITIONAL" });
    });
  });
});
