// Conditional bindings at access checks: true, false and erroring conditions over `request.time`, `resource.name`
// and `request.attributes`. An erroring condition makes its binding not apply and reads UNKNOWN_CONDITIONAL.
import type { JsonValue } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  AccessState,
  attributeValues,
  expectCode,
  createTree,
  explained,
  setBindings,
  stateName,
  stateOf,
  startAccessServer,
  uniqueId,
  violationsOf,
  type AccessTestServer,
  type Api,
  type Tree,
} from "./support.js";

const PAST_WINDOW = 'request.time >= timestamp("2001-01-01T00:00:00Z") && request.time < timestamp("2002-01-01T00:00:00Z")';
const FUTURE_WINDOW = 'request.time >= timestamp("2998-01-01T00:00:00Z") && request.time < timestamp("2999-01-01T00:00:00Z")';
const UNTIL_FAR_FUTURE = 'request.time < timestamp("2999-01-01T00:00:00Z")';
const SINCE_LONG_AGO = 'request.time >= timestamp("2001-01-01T00:00:00Z")';
const PRJ_PREFIX = 'resource.name.startsWith("projects/prj_")';
const FROM_OFFICE = 'request.attributes["ip"] == "10.0.0.1"';

let running: AccessTestServer;
let api: Api;
let tree: Tree;
beforeAll(async () => {
  running = await startAccessServer();
  api = running.grpc;
  tree = await createTree(api);
});
afterAll(() => running?.stop());

/** A fresh user granted `role` on `resource` under `condition`. */
async function grantedUnder(resource: string, role: string, condition: string): Promise<string> {
  const user = `user:${uniqueId("u")}@example.com`;
  await setBindings(api, resource, { role, members: [user], condition });
  return user;
}

async function state(
  resource: string,
  user: string,
  permission: string,
  attributes: Record<string, JsonValue> = {},
): Promise<string> {
  return stateOf(api, resource, [user], permission, attributes);
}

const GRANTED = stateName(AccessState.GRANTED);
const NOT_GRANTED = stateName(AccessState.NOT_GRANTED);
const UNKNOWN_CONDITIONAL = stateName(AccessState.UNKNOWN_CONDITIONAL);

describe("time windows over request.time", () => {
  test("a window that ended in the past does not grant", async () => {
    const user = await grantedUnder(tree.project, "roles/readonly", PAST_WINDOW);
    expect(await state(tree.project, user, "projects.get")).toBe(NOT_GRANTED);
  });

  test("a window that has not begun yet does not grant", async () => {
    const user = await grantedUnder(tree.project, "roles/readonly", FUTURE_WINDOW);
    expect(await state(tree.project, user, "projects.get")).toBe(NOT_GRANTED);
  });

  test("an expiry in the future grants until then", async () => {
    const user = await grantedUnder(tree.project, "roles/readonly", UNTIL_FAR_FUTURE);
    expect(await state(tree.project, user, "projects.get")).toBe(GRANTED);
  });

  test("a window open now (begun in the past, ending in the future) grants", async () => {
    const user = await grantedUnder(tree.project, "roles/readonly", `${SINCE_LONG_AGO} && ${UNTIL_FAR_FUTURE}`);
    expect(await state(tree.project, user, "projects.get")).toBe(GRANTED);
  });
});

describe("resource-name prefixes", () => {
  test("a condition on an organization binding applies to the projects it names and not to others", async () => {
    const user = await grantedUnder(tree.org, "roles/collaborator", PRJ_PREFIX);
    expect(await state(tree.project, user, "projects.update")).toBe(GRANTED);
    expect(await state(tree.otherProject, user, "projects.update")).toBe(GRANTED);
    // Directly under the organization, but named legacy_…: the prefix does not match.
    expect(await state(tree.orgProject, user, "projects.update")).toBe(NOT_GRANTED);
    // The condition reads the resource checked, not the one the policy is attached to.
    expect(await state(tree.cloud, user, "clouds.get")).toBe(NOT_GRANTED);
    expect(await state(tree.org, user, "organizations.get")).toBe(NOT_GRANTED);
  });

  test("resource.type reads the type of the resource checked", async () => {
    const user = await grantedUnder(tree.org, "roles/collaborator", 'resource.type == "cloud"');
    expect(await state(tree.cloud, user, "clouds.update")).toBe(GRANTED);
    expect(await state(tree.project, user, "projects.update")).toBe(NOT_GRANTED);
  });
});

describe("request attributes", () => {
  let user: string;
  let resource: string;
  beforeAll(async () => {
    resource = tree.otherCloud;
    user = await grantedUnder(resource, "roles/readonly", FROM_OFFICE);
  });

  test("the condition is true when the attribute has the value", async () => {
    expect(await state(resource, user, "clouds.get", { ip: "10.0.0.1" })).toBe(GRANTED);
  });

  test("the condition is false when the attribute has another value", async () => {
    expect(await state(resource, user, "clouds.get", { ip: "10.9.9.9" })).toBe(NOT_GRANTED);
  });

  test("a missing attribute makes the condition fail to evaluate: UNKNOWN_CONDITIONAL, not a crash", async () => {
    expect(await state(resource, user, "clouds.get")).toBe(UNKNOWN_CONDITIONAL);
    expect(await state(resource, user, "clouds.get", { team: "infra" })).toBe(UNKNOWN_CONDITIONAL);
  });

  test("an attribute of another type makes the comparison false or unknown, never a crash", async () => {
    const result = await state(resource, user, "clouds.get", { ip: 10 });
    expect([NOT_GRANTED, UNKNOWN_CONDITIONAL]).toContain(result);
  });

  test("the explanation reports the binding as UNKNOWN_CONDITIONAL with why, and the granted list omits it", async () => {
    const response = await explained(api, { resource, principals: [user], permissions: ["clouds.get"] });
    expect(response.grantedPermissions).toEqual([]);
    const [check] = response.results;
    expect(stateName(check!.state)).toBe(UNKNOWN_CONDITIONAL);
    const explanation = check!.explanations.find((e) => e.resource === resource);
    expect(stateName(explanation!.state)).toBe(UNKNOWN_CONDITIONAL);
    expect(explanation!.condition?.expression).toBe(FROM_OFFICE);
    expect(explanation!.matchedMember).toBe(user);
    expect(explanation!.resource).toBe(resource);
    expect(explanation!.reason).toMatch(/could not be evaluated/);
  });

  test("attribute values of every JSON kind reach the condition", async () => {
    const cases: [string, Record<string, JsonValue>][] = [
      ['request.attributes["level"] == 3.0', { level: 3 }],
      ['request.attributes["admin"] == true', { admin: true }],
      ['request.attributes["tags"][1] == "prod"', { tags: ["dev", "prod"] }],
      ['request.attributes["origin"]["region"] == "eu"', { origin: { region: "eu" } }],
    ];
    for (const [condition, attributes] of cases) {
      const someone = await grantedUnder(tree.orgProject, "roles/readonly", condition);
      expect(await state(tree.orgProject, someone, "projects.get", attributes), condition).toBe(GRANTED);
    }
  });
});

describe("how conditional and unconditional bindings combine", () => {
  test("an unconditional grant wins over an erroring condition", async () => {
    const user = `user:${uniqueId("u")}@example.com`;
    await setBindings(
      api,
      tree.project,
      { role: "roles/readonly", members: [user], condition: FROM_OFFICE },
      { role: "roles/collaborator", members: [user] },
    );
    expect(await state(tree.project, user, "projects.get")).toBe(GRANTED);
  });

  test("a true condition wins over an erroring one", async () => {
    const user = `user:${uniqueId("u")}@example.com`;
    await setBindings(
      api,
      tree.project,
      { role: "roles/readonly", members: [user], condition: FROM_OFFICE },
      { role: "roles/collaborator", members: [user], condition: UNTIL_FAR_FUTURE },
    );
    expect(await state(tree.project, user, "projects.get")).toBe(GRANTED);
  });

  test("an erroring condition outranks a false one: the answer is UNKNOWN_CONDITIONAL", async () => {
    const user = `user:${uniqueId("u")}@example.com`;
    await setBindings(
      api,
      tree.project,
      { role: "roles/readonly", members: [user], condition: PAST_WINDOW },
      { role: "roles/collaborator", members: [user], condition: FROM_OFFICE },
    );
    expect(await state(tree.project, user, "projects.get")).toBe(UNKNOWN_CONDITIONAL);
  });

  test("a condition only affects the permissions of its own binding's role", async () => {
    const user = `user:${uniqueId("u")}@example.com`;
    await setBindings(
      api,
      tree.project,
      { role: "roles/readonly", members: [user] },
      { role: "roles/owner", members: [user], condition: FROM_OFFICE },
    );
    const response = await api.access.checkAccess({
      resource: tree.project,
      principals: [user],
      permissions: ["projects.get", "projects.delete"],
    });
    expect(response.results.map((r) => [r.permission, stateName(r.state)])).toEqual([
      ["projects.get", GRANTED],
      ["projects.delete", UNKNOWN_CONDITIONAL],
    ]);
    expect(response.grantedPermissions).toEqual(["projects.get"]);
  });

  test("an erroring condition of a binding whose members do not match the subject is not reported", async () => {
    const user = `user:${uniqueId("u")}@example.com`;
    await setBindings(api, tree.project, { role: "roles/readonly", members: ["user:someone-else@example.com"], condition: FROM_OFFICE });
    expect(await state(tree.project, user, "projects.get")).toBe(NOT_GRANTED);
  });
});

describe("bounded cost (issue 13, item 1)", () => {
  const REPLACE = "request.attributes.s.replace('a','aa').size() > 0";

  test("a 100 KB attribute is refused as INVALID_ARGUMENT, naming the limit", async () => {
    const user = await grantedUnder(tree.project, "roles/readonly", REPLACE);
    await expectCode(state(tree.project, user, "projects.get", { s: "a".repeat(100_000) }), Code.InvalidArgument, /attributes: larger than 16384/);
  });

  test("an attribute within the limits that makes the condition exceed its budget reads unknown, and says why", async () => {
    const user = await grantedUnder(tree.project, "roles/readonly", REPLACE);
    expect(await state(tree.project, user, "projects.get", { s: "a".repeat(16_000) })).toBe(UNKNOWN_CONDITIONAL);
    const response = await api.access.checkAccess({
      resource: tree.project,
      principals: [user],
      permissions: ["projects.get"],
      attributes: attributeValues({ s: "a".repeat(16_000) }),
      explain: true,
    });
    expect(response.results[0]!.explanations[0]!.reason).toMatch(/exceeded its evaluation budget of \d+ cost units/);
    expect(await state(tree.project, user, "projects.get", { s: "a".repeat(10) })).toBe(GRANTED);
  });

  test("attributes nested more than 8 levels are refused", async () => {
    let deep: JsonValue = "x";
    for (let i = 0; i < 10; i++) deep = { d: deep };
    await expectCode(state(tree.project, "user:ada@example.com", "projects.get", { deep }), Code.InvalidArgument);
  });
});

describe("regular expressions are RE2, bounded by what they run (issue 25, item 1)", () => {
  // 45 pieces of one to four a's: a backtracking engine tries them all; RE2 runs once over the text.
  const PIECES = "request.attributes.s.matches('^(a|aa|aaa|aaaa){45}$')";

  test("a backtracking pattern is judged at CheckAccess: matched, not matched, and over its budget", async () => {
    const user = await grantedUnder(tree.project, "roles/readonly", PIECES);
    expect(await state(tree.project, user, "projects.get", { s: "a".repeat(100) })).toBe(GRANTED);
    expect(await state(tree.project, user, "projects.get", { s: "a".repeat(44) })).toBe(NOT_GRANTED);
    // 16,000 characters against a pattern of size ~870: over the evaluation budget, refused before the match runs.
    expect(await state(tree.project, user, "projects.get", { s: "a".repeat(16_000) })).toBe(UNKNOWN_CONDITIONAL);
  });

  test("RE2's semantics, where JavaScript's RegExp reads the pattern otherwise (\\z, \\pL)", async () => {
    const user = await grantedUnder(tree.project, "roles/readonly", "resource.name.matches('^projects/\\\\pL+_[a-z0-9]+\\\\z')");
    expect(await state(tree.project, user, "projects.get")).toBe(GRANTED);
  });

  test.each([
    ["a backreference", "(a)\\\\1", "invalid escape sequence"],
    ["a lookahead", "(?=a)", "invalid or unsupported Perl syntax"],
    ["issue 25's pattern", "(a|aa|aaa|aaaa){1000}", "regular expression is too large"],
  ])("SetPolicy refuses %s as INVALID_ARGUMENT naming the binding", async (_, pattern, reason) => {
    const user = `user:${uniqueId("u")}@example.com`;
    const error = await expectCode(
      setBindings(api, tree.project, { role: "roles/readonly", members: [user] }, { role: "roles/owner", members: [user], condition: `resource.name.matches('${pattern}')` }),
      Code.InvalidArgument,
    );
    const violations = violationsOf(error);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatch(/^policy\.bindings\[1\]\.condition\.expression: invalid regular expression/);
    expect(violations[0]).toContain(reason);
  });

  test("a pattern computed at run time that RE2 refuses makes a deny rule unknown, never a grant", async () => {
    const user = await grantedUnder(tree.otherProject, "roles/readonly", 'resource.type == "project"');
    await api.denyPolicies.setDenyPolicy({
      resource: tree.otherProject,
      denyPolicy: { rules: [{ deniedPrincipals: [user], deniedPermissions: ["projects.get"], denialCondition: { expression: "'x'.matches(request.attributes.p)" } }] },
    });
    expect(await state(tree.otherProject, user, "projects.get", { p: "y" })).toBe(GRANTED);
    expect(await state(tree.otherProject, user, "projects.get", { p: "x" })).toBe(stateName(AccessState.DENIED));
    expect(await state(tree.otherProject, user, "projects.get", { p: "(a)\\1" })).toBe(UNKNOWN_CONDITIONAL);
    await api.denyPolicies.deleteDenyPolicy({ resource: tree.otherProject });
  });

  test("the conditions of one write are bounded together: eight of the largest patterns are refused", async () => {
    const user = `user:${uniqueId("u")}@example.com`;
    const grants = Array.from({ length: 8 }, (_, i) => ({
      role: "roles/readonly",
      members: [user],
      condition: `'aa'.matches('(a|aa|aaa|aaaa){250}|z${i}')`,
    }));
    const error = await expectCode(setBindings(api, tree.project, ...grants), Code.InvalidArgument);
    expect(violationsOf(error).join("\n")).toMatch(/condition\.expression: the conditions of this write cost more than \d+ units to check together/);
  });
});
