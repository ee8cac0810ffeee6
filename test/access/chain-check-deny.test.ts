// What a check decides when the chain carries deny rules, shared policies and custom roles, and what its explanations
// say about each (domain/access/chain-check.ts): deny wins over any grant, an unknown deny turns a grant into unknown,
// exceptions, conditions, and which links an explanation may name.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { AccessState, type PermissionCheck } from "../../gen/policy/v1/access_service_pb.js";
import { DenyPolicySchema, DenyRuleSchema } from "../../gen/policy/v1/deny_policy_pb.js";
import {
  AuditConfigSchema,
  AuditLogConfig_LogType,
  BindingSchema,
  ExprSchema,
  PolicySchema,
  type Binding,
} from "../../gen/policy/v1/policy_pb.js";
import { ResourceSchema } from "../../gen/policy/v1/resource_pb.js";
import { RoleSchema, RoleStage } from "../../gen/policy/v1/role_pb.js";
import { SharedPolicySchema } from "../../gen/policy/v1/shared_policy_pb.js";
import { auditsRead, checkChain, combine, type CheckInput } from "../../src/domain/access/chain-check.js";
import { Subject } from "../../src/domain/access/subject.js";
import { parseSchema } from "../../src/schema/schema-loader.js";
import { Violations } from "../../src/service-error.js";
import { deepFreeze } from "../../src/frozen-value.js";
import type { StoredPolicy } from "../../src/store/store.js";

const schema = parseSchema(readFileSync(new URL("../../schema/default.yaml", import.meta.url), "utf8"), "default.yaml");

const ADA = "user:ada@example.com";
const BOB = "user:bob@example.com";
const ORG = "organizations/o";
const CLOUD = "clouds/c";
const PROJECT = "projects/p";

interface LinkInit {
  bindings?: Binding[];
  deny?: MessageInitShape<typeof DenyRuleSchema>[];
  roles?: MessageInitShape<typeof RoleSchema>[];
  shared?: MessageInitShape<typeof SharedPolicySchema>[];
  auditConfigs?: MessageInitShape<typeof AuditConfigSchema>[];
}

function link(name: string, parent: string, type: string, init: LinkInit = {}): StoredPolicy {
  const rules = (init.deny ?? []).map((rule) => create(DenyRuleSchema, rule));
  return {
    resource: create(ResourceSchema, { name, parent, type }),
    createSeq: 0,
    policy: create(PolicySchema, {
      version: 3,
      bindings: init.bindings ?? [],
      auditConfigs: (init.auditConfigs ?? []).map((c) => create(AuditConfigSchema, c)),
    }),
    ...(rules.length > 0 ? { deny: create(DenyPolicySchema, { resource: name, rules }) } : {}),
    ...(init.roles ? { roles: init.roles.map((r) => create(RoleSchema, r)) } : {}),
    ...(init.shared ? { shared: init.shared.map((s) => create(SharedPolicySchema, s)) } : {}),
  };
}

/** projects/p under clouds/c under organizations/o, each with what `init` gives it. */
function chain(project: LinkInit = {}, cloud: LinkInit = {}, org: LinkInit = {}): StoredPolicy[] {
  return [link(PROJECT, CLOUD, "project", project), link(CLOUD, ORG, "cloud", cloud), link(ORG, "", "organization", org)];
}

function binding(role: string, members: string[], expression?: string): Binding {
  return create(BindingSchema, { role, members, condition: expression === undefined ? undefined : create(ExprSchema, { expression }) });
}

function input(principals: string[], permissions: string[], extra: Partial<CheckInput> = {}): CheckInput {
  const violations = new Violations();
  const subject = Subject.of(principals, violations, "principals");
  expect(violations.list).toEqual([]);
  return { subject, permissions, attributes: new Map(), requestTime: timestampNow(), explain: false, ...extra };
}

function check(links: StoredPolicy[], principals: string[], permissions: string[], extra: Partial<CheckInput> = {}): PermissionCheck[] {
  const results = checkChain(schema, links, input(principals, permissions, extra));
  expect(results).toBeDefined();
  return results!;
}

function states(results: PermissionCheck[]): Record<string, string> {
  return Object.fromEntries(results.map((r) => [r.permission, AccessState[r.state]]));
}

const owner = (member = ADA) => binding("roles/owner", [member]);
const denyTo = (principals: string[], permissions: string[], more: MessageInitShape<typeof DenyRuleSchema> = {}): MessageInitShape<typeof DenyRuleSchema> => ({
  deniedPrincipals: principals,
  deniedPermissions: permissions,
  ...more,
});
const condition = (expression: string) => create(ExprSchema, { expression });
const ATTRIBUTE_IS_YES = 'request.attributes["flag"] == "yes"';

describe("deny rules against grants", () => {
  test("a deny rule on any link wins over a grant on any link, for the permissions and principals it names only", () => {
    const denyBelow = chain({ deny: [denyTo([ADA], ["projects.delete"])] }, {}, { bindings: [owner()] });
    expect(states(check(denyBelow, [ADA], ["projects.delete", "projects.get"]))).toEqual({
      "projects.delete": "DENIED",
      "projects.get": "GRANTED",
    });
    const denyAbove = chain({ bindings: [binding("roles/owner", [ADA, BOB])] }, {}, { deny: [denyTo([ADA], ["projects.delete"])] });
    expect(states(check(denyAbove, [ADA], ["projects.delete"]))).toEqual({ "projects.delete": "DENIED" });
    expect(states(check(denyAbove, [BOB], ["projects.delete"]))).toEqual({ "projects.delete": "GRANTED" });
  });

  test("a denied permission nobody grants is DENIED, not NOT_GRANTED", () => {
    const links = chain({ deny: [denyTo([ADA], ["projects.delete"])] });
    expect(states(check(links, [ADA], ["projects.delete"]))).toEqual({ "projects.delete": "DENIED" });
  });

  test("patterns: a collection's `.*` and `*` deny every permission they cover", () => {
    const collection = chain({ bindings: [owner()], deny: [denyTo([ADA], ["projects.*"])] });
    expect(states(check(collection, [ADA], ["projects.get", "audit.list"]))).toEqual({ "projects.get": "DENIED", "audit.list": "GRANTED" });
    const everything = chain({ bindings: [owner()], deny: [denyTo([ADA], ["*"])] });
    expect(states(check(everything, [ADA], ["projects.get", "audit.list"]))).toEqual({ "projects.get": "DENIED", "audit.list": "DENIED" });
  });

  test("a rule denies a principal through its domain or group, and not someone else's", () => {
    const links = chain({ bindings: [binding("roles/owner", [ADA, BOB])], deny: [denyTo(["domain:example.com"], ["projects.delete"])] });
    expect(states(check(links, [ADA], ["projects.delete"]))).toEqual({ "projects.delete": "DENIED" });
    const other = chain({ bindings: [binding("roles/owner", ["user:cy@other.org"])], deny: [denyTo(["domain:example.com"], ["projects.delete"])] });
    expect(states(check(other, ["user:cy@other.org"], ["projects.delete"]))).toEqual({ "projects.delete": "GRANTED" });
  });

  test("exception principals and exception permissions are not denied", () => {
    const links = chain({
      bindings: [binding("roles/owner", [ADA, BOB])],
      deny: [denyTo(["domain:example.com"], ["projects.*"], { exceptionPrincipals: [BOB], exceptionPermissions: ["projects.get"] })],
    });
    expect(states(check(links, [ADA], ["projects.delete", "projects.get"]))).toEqual({ "projects.delete": "DENIED", "projects.get": "GRANTED" });
    expect(states(check(links, [BOB], ["projects.delete", "projects.get"]))).toEqual({ "projects.delete": "GRANTED", "projects.get": "GRANTED" });
  });

  test("more than a few principals in a rule or a binding: the last one still matches", () => {
    const many = Array.from({ length: 12 }, (_, i) => `user:u${i}@example.com`);
    const last = many.at(-1)!;
    const links = chain({ bindings: [binding("roles/owner", many)], deny: [denyTo(many, ["projects.delete"], { exceptionPrincipals: many.slice(0, 11) })] });
    expect(states(check(links, [last], ["projects.delete", "projects.get"]))).toEqual({ "projects.delete": "DENIED", "projects.get": "GRANTED" });
    expect(states(check(links, [many[0]!], ["projects.delete"]))).toEqual({ "projects.delete": "GRANTED" });
    expect(states(check(links, [BOB], ["projects.get"]))).toEqual({ "projects.get": "NOT_GRANTED" });
  });

  test("a denial condition: true denies, false does not, unevaluable makes a grant unknown (and leaves no grant at NOT_GRANTED)", () => {
    const links = chain({
      bindings: [binding("roles/owner", [ADA])],
      deny: [denyTo([ADA, BOB], ["projects.delete"], { denialCondition: condition(ATTRIBUTE_IS_YES) })],
    });
    const at = (principal: string, attributes: Map<string, unknown>) =>
      states(check(links, [principal], ["projects.delete"], { attributes }))["projects.delete"];
    expect(at(ADA, new Map([["flag", "yes"]]))).toBe("DENIED");
    expect(at(ADA, new Map([["flag", "no"]]))).toBe("GRANTED");
    expect(at(ADA, new Map())).toBe("UNKNOWN_CONDITIONAL");
    expect(at(BOB, new Map())).toBe("NOT_GRANTED");
    expect(at(BOB, new Map([["flag", "yes"]]))).toBe("DENIED");
  });

  test("a stored denial condition that no longer compiles never lets a grant through", () => {
    const links = chain({ bindings: [owner()], deny: [denyTo([ADA], ["projects.delete"], { denialCondition: condition("request.time <") })] });
    expect(states(check(links, [ADA], ["projects.delete"]))).toEqual({ "projects.delete": "UNKNOWN_CONDITIONAL" });
  });

  test("a rule that denies outright wins over an earlier or later rule whose condition is unknown, with or without explanations", () => {
    const unknownFirst = [
      denyTo([ADA], ["projects.delete"], { denialCondition: condition(ATTRIBUTE_IS_YES) }),
      denyTo([ADA], ["projects.delete"]),
    ];
    for (const rules of [unknownFirst, [...unknownFirst].reverse()]) {
      for (const explain of [false, true]) {
        const links = chain({ bindings: [owner()] }, { deny: rules });
        expect(states(check(links, [ADA], ["projects.delete"], { explain }))).toEqual({ "projects.delete": "DENIED" });
      }
    }
  });

  test("the three deny outcomes combine with the three allow outcomes: deny wins, unknown taints a grant only", () => {
    const { GRANTED, NOT_GRANTED, UNKNOWN_CONDITIONAL: UNKNOWN, DENIED } = AccessState;
    const table = [
      [GRANTED, NOT_GRANTED, GRANTED],
      [GRANTED, UNKNOWN, UNKNOWN],
      [GRANTED, DENIED, DENIED],
      [UNKNOWN, NOT_GRANTED, UNKNOWN],
      [UNKNOWN, UNKNOWN, UNKNOWN],
      [UNKNOWN, DENIED, DENIED],
      [NOT_GRANTED, NOT_GRANTED, NOT_GRANTED],
      [NOT_GRANTED, UNKNOWN, NOT_GRANTED],
      [NOT_GRANTED, DENIED, DENIED],
    ];
    for (const [allow, deny, expected] of table) expect(AccessState[combine(allow!, deny!)], `${allow} ${deny}`).toBe(AccessState[expected!]);
  });
});

describe("grants that are unknown", () => {
  test("an unknown conditional binding does not hide a plain grant before or after it", () => {
    const conditional = binding("roles/owner", [ADA], ATTRIBUTE_IS_YES);
    for (const explain of [false, true]) {
      const before = chain({ bindings: [conditional] }, {}, { bindings: [owner()] });
      const after = chain({ bindings: [owner()] }, {}, { bindings: [conditional] });
      expect(states(check(before, [ADA], ["projects.delete"], { explain }))).toEqual({ "projects.delete": "GRANTED" });
      expect(states(check(after, [ADA], ["projects.delete"], { explain }))).toEqual({ "projects.delete": "GRANTED" });
    }
  });

  test("a false condition after an unknown one leaves the permission unknown", () => {
    const links = chain({ bindings: [binding("roles/owner", [ADA], ATTRIBUTE_IS_YES)] }, {}, { bindings: [binding("roles/owner", [ADA], "false")] });
    expect(states(check(links, [ADA], ["projects.delete"]))).toEqual({ "projects.delete": "UNKNOWN_CONDITIONAL" });
  });
});

describe("explanations", () => {
  test("a denied permission with explain names every binding and every rule that matched, with the reason of each", () => {
    const links = chain(
      {
        bindings: [owner()],
        deny: [
          denyTo([BOB], ["projects.delete"], { description: "not bob" }),
          denyTo([ADA], ["projects.*"], { description: "freeze", exceptionPermissions: ["projects.get"] }),
        ],
      },
      { deny: [denyTo(["domain:example.com"], ["projects.delete"], { exceptionPrincipals: [ADA] })] },
      { bindings: [binding("roles/owner", ["domain:example.com"])], deny: [denyTo([ADA], ["*"], { description: "root" })] },
    );
    const [deleted, read] = check(links, [ADA], ["projects.delete", "projects.get"], { explain: true });
    expect(AccessState[deleted!.state]).toBe("DENIED");
    expect(deleted!.explanations.map((e) => [e.resource, e.sharedPolicy, e.role, e.matchedMember, AccessState[e.state], e.reason])).toEqual([
      [PROJECT, "", "roles/owner", ADA, "GRANTED", `granted to ${ADA}`],
      [ORG, "", "roles/owner", "domain:example.com", "GRANTED", "granted to domain:example.com"],
    ]);
    expect(
      deleted!.denyExplanations.map((e) => [e.resource, e.sharedPolicy, e.ruleIndex, e.description, AccessState[e.state], e.matchedPrincipal, e.reason]),
    ).toEqual([
      [PROJECT, "", 0, "not bob", "NOT_GRANTED", "", "no denied principal of the rule matches the subject"],
      [PROJECT, "", 1, "freeze", "DENIED", ADA, `${ADA} is denied projects.delete by projects.*`],
      [CLOUD, "", 0, "", "NOT_GRANTED", "domain:example.com", `the subject matches exception principal ${ADA}`],
      [ORG, "", 0, "root", "DENIED", ADA, `${ADA} is denied projects.delete by *`],
    ]);
    expect(AccessState[read!.state]).toBe("DENIED");
    expect(read!.denyExplanations.map((e) => [e.resource, e.ruleIndex, AccessState[e.state], e.matchedPrincipal, e.reason])).toEqual([
      [PROJECT, 1, "NOT_GRANTED", "", "projects.get is an exception permission of the rule (projects.get)"],
      [ORG, 0, "DENIED", ADA, `${ADA} is denied projects.get by *`],
    ]);
  });

  test("without explain, a denied result carries no explanations", () => {
    const links = chain({ bindings: [owner()], deny: [denyTo([ADA], ["projects.delete"])] });
    const [result] = check(links, [ADA], ["projects.delete"]);
    expect(result!.explanations).toEqual([]);
    expect(result!.denyExplanations).toEqual([]);
  });

  test("the reasons of conditions: true, false, unevaluable and invalid, for bindings and deny rules", () => {
    const links = chain(
      {
        bindings: [binding("roles/owner", [ADA], "true"), binding("roles/collaborator", [ADA], "false")],
        deny: [
          denyTo([ADA], ["projects.update"], { denialCondition: condition("1 == 1") }),
          denyTo([ADA], ["projects.update"], { denialCondition: condition("1 == 2") }),
          denyTo([ADA], ["projects.update"], { denialCondition: condition(ATTRIBUTE_IS_YES) }),
          denyTo([ADA], ["projects.update"], { denialCondition: condition("request.time <") }),
        ],
      },
      { bindings: [binding("roles/readonly", [ADA], ATTRIBUTE_IS_YES)] },
    );
    const [update, get] = check(links, [ADA], ["projects.update", "projects.get"], { explain: true });
    expect(update!.explanations.map((e) => [e.role, AccessState[e.state], e.reason])).toEqual([
      ["roles/owner", "GRANTED", `granted to ${ADA}; the condition is true`],
      ["roles/collaborator", "NOT_GRANTED", "the condition evaluated to false"],
    ]);
    const reasons = update!.denyExplanations.map((e) => [AccessState[e.state], e.reason]);
    expect(reasons[0]).toEqual(["DENIED", `${ADA} is denied projects.update by projects.update; the denial condition is true`]);
    expect(reasons[1]).toEqual(["NOT_GRANTED", "the denial condition evaluated to false"]);
    expect(reasons[2]![0]).toBe("UNKNOWN_CONDITIONAL");
    expect(reasons[2]![1]).toMatch(new RegExp(`^${ADA} is denied projects.update by projects.update if its denial condition holds, and it could not be evaluated: .+`));
    expect(reasons[3]![0]).toBe("UNKNOWN_CONDITIONAL");
    expect(reasons[3]![1]).toMatch(/^the denial condition is invalid: .+/);
    const cloudExplanation = get!.explanations.find((e) => e.resource === CLOUD)!;
    expect(AccessState[cloudExplanation.state]).toBe("UNKNOWN_CONDITIONAL");
    expect(cloudExplanation.reason).toMatch(/^the condition could not be evaluated: .+/);
    expect(cloudExplanation.matchedMember).toBe(ADA);
  });

  test("links the caller may not see are left out of both kinds of explanation", () => {
    const links = chain(
      { bindings: [owner()], deny: [denyTo([ADA], ["projects.delete"])] },
      { bindings: [binding("roles/collaborator", [ADA])], deny: [denyTo([ADA], ["projects.delete"])] },
      { bindings: [owner("domain:example.com")], deny: [denyTo([ADA], ["projects.delete"])] },
    );
    const [result] = check(links, [ADA], ["projects.delete"], { explain: true, shown: [true, false, true] });
    expect(AccessState[result!.state]).toBe("DENIED");
    expect(result!.explanations.map((e) => e.resource)).toEqual([PROJECT, ORG]);
    expect(result!.denyExplanations.map((e) => e.resource)).toEqual([PROJECT, ORG]);
  });
});

describe("shared policies bound to a link", () => {
  const SHARED = "sharedPolicies/guard";

  test("their bindings grant at the link they are bound to, read on its type, and explanations name them", () => {
    const links = chain({}, { shared: [{ name: SHARED, parent: ORG, bindings: [binding("roles/collaborator", [ADA])] }] });
    // roles/collaborator on a cloud grants projects.delete below it (on a project it would not).
    const [result] = check(links, [ADA], ["projects.delete"], { explain: true });
    expect(AccessState[result!.state]).toBe("GRANTED");
    expect(result!.explanations.map((e) => [e.resource, e.sharedPolicy, e.role])).toEqual([[CLOUD, SHARED, "roles/collaborator"]]);
    expect(states(check(links, [BOB], ["projects.delete"]))).toEqual({ "projects.delete": "NOT_GRANTED" });
  });

  test("their deny rules deny as the link's own, after them, and explanations name them", () => {
    const links = chain(
      { bindings: [owner()], deny: [denyTo([BOB], ["projects.delete"])], shared: [{ name: SHARED, parent: ORG, denyRules: [create(DenyRuleSchema, denyTo([ADA], ["projects.delete"]))] }] },
    );
    const [result] = check(links, [ADA], ["projects.delete"], { explain: true });
    expect(AccessState[result!.state]).toBe("DENIED");
    expect(result!.denyExplanations.map((e) => [e.resource, e.sharedPolicy, AccessState[e.state]])).toEqual([
      [PROJECT, "", "NOT_GRANTED"],
      [PROJECT, SHARED, "DENIED"],
    ]);
    expect(states(check(links, [ADA], ["projects.delete"]))).toEqual({ "projects.delete": "DENIED" });
  });

  test("the same shared (cached) link checked twice, for different types of a policy bound at two levels, answers the same", () => {
    const guard = { name: SHARED, parent: ORG, bindings: [binding("roles/collaborator", [ADA])], denyRules: [create(DenyRuleSchema, denyTo([ADA], ["clouds.delete"]))] };
    const links = [link(PROJECT, CLOUD, "project", { shared: [guard] }), link(CLOUD, ORG, "cloud", { shared: [guard] }), link(ORG, "", "organization")].map(deepFreeze);
    for (let i = 0; i < 2; i++) {
      expect(states(check(links, [ADA], ["projects.update", "projects.delete"]))).toEqual({ "projects.update": "GRANTED", "projects.delete": "GRANTED" });
      expect(states(check(links.slice(1), [ADA], ["clouds.delete", "clouds.update"]))).toEqual({ "clouds.delete": "DENIED", "clouds.update": "GRANTED" });
    }
  });
});

describe("custom roles", () => {
  const ROLE = `${ORG}/roles/deleter`;

  test("a custom role defined on the root grants its permissions where they are grantable, while it is active", () => {
    const bound = (stage: RoleStage, deleted = false) =>
      chain({ bindings: [binding(ROLE, [ADA])] }, { bindings: [binding(ROLE, [BOB])] }, { roles: [{ name: ROLE, includedPermissions: ["projects.delete"], stage, deleted }] });
    expect(states(check(bound(RoleStage.GA), [ADA], ["projects.delete", "projects.get"]))).toEqual({ "projects.delete": "GRANTED", "projects.get": "NOT_GRANTED" });
    // Granted on the cloud: projects.delete is grantable on clouds too (roles/collaborator), so it applies below.
    expect(states(check(bound(RoleStage.GA), [BOB], ["projects.delete"]))).toEqual({ "projects.delete": "GRANTED" });
    expect(states(check(bound(RoleStage.DISABLED), [ADA], ["projects.delete"]))).toEqual({ "projects.delete": "NOT_GRANTED" });
    expect(states(check(bound(RoleStage.GA, true), [ADA], ["projects.delete"]))).toEqual({ "projects.delete": "NOT_GRANTED" });
  });

  test("a custom role grants nothing on a type that cannot be granted all its permissions", () => {
    // projects.setPolicy is grantable on projects only (roles/owner): a binding on the cloud grants nothing.
    const links = chain({}, { bindings: [binding(ROLE, [ADA])] }, { roles: [{ name: ROLE, includedPermissions: ["projects.setPolicy"], stage: RoleStage.GA }] });
    expect(states(check(links, [ADA], ["projects.setPolicy"]))).toEqual({ "projects.setPolicy": "NOT_GRANTED" });
    const onProject = chain({ bindings: [binding(ROLE, [ADA])] }, {}, { roles: [{ name: ROLE, includedPermissions: ["projects.setPolicy"], stage: RoleStage.GA }] });
    expect(states(check(onProject, [ADA], ["projects.setPolicy"]))).toEqual({ "projects.setPolicy": "GRANTED" });
  });

  test("a binding naming a custom role the chain does not define grants nothing", () => {
    const links = chain({ bindings: [binding(ROLE, [ADA])] });
    expect(states(check(links, [ADA], ["projects.delete"]))).toEqual({ "projects.delete": "NOT_GRANTED" });
  });
});

describe("the chain itself", () => {
  test("a resource whose type the schema does not know has no answer; a link of an unknown type grants nothing", () => {
    expect(checkChain(schema, [link("widgets/w", "", "widget", { bindings: [owner()] })], input([ADA], ["projects.get"]))).toBeUndefined();
    expect(checkChain(schema, [], input([ADA], ["projects.get"]))).toBeUndefined();
    const links = [link(PROJECT, "widgets/w", "project"), link("widgets/w", ORG, "widget", { bindings: [owner()] }), link(ORG, "", "organization")];
    expect(states(check(links, [ADA], ["projects.get"]))).toEqual({ "projects.get": "NOT_GRANTED" });
    // A shared policy bound to a link of an unknown type grants nothing there either (and does not break the check).
    const sharedOnUnknown = [
      link(PROJECT, "widgets/w", "project"),
      link("widgets/w", ORG, "widget", { shared: [{ name: "sharedPolicies/s", parent: ORG, bindings: [owner()] }] }),
      link(ORG, "", "organization"),
    ];
    expect(states(check(sharedOnUnknown, [ADA], ["projects.get"]))).toEqual({ "projects.get": "NOT_GRANTED" });
  });
});

describe("read auditing", () => {
  const { DATA_READ, ADMIN_READ } = AuditLogConfig_LogType;
  const audited = (links: StoredPolicy[], service: string, logType: AuditLogConfig_LogType, identities: string[]) =>
    auditsRead(links, service, logType, identities);

  test("a config on any link for the service, or for allServices, audits reads of its log type", () => {
    const links = chain({}, { auditConfigs: [{ service: "policy.v1.PolicyService", auditLogConfigs: [{ logType: DATA_READ }] }] });
    expect(audited(links, "policy.v1.PolicyService", DATA_READ, [ADA])).toBe(true);
    expect(audited(links, "policy.v1.PolicyService", ADMIN_READ, [ADA])).toBe(false);
    expect(audited(links, "policy.v1.AccessService", DATA_READ, [ADA])).toBe(false);
    const all = chain({}, {}, { auditConfigs: [{ service: "allServices", auditLogConfigs: [{ logType: DATA_READ }] }] });
    expect(audited(all, "policy.v1.AccessService", DATA_READ, [ADA])).toBe(true);
    expect(audited(chain(), "policy.v1.AccessService", DATA_READ, [ADA])).toBe(false);
  });

  test("an exemption on any link exempts the identity, even where another link audits it", () => {
    const links = chain(
      { auditConfigs: [{ service: "allServices", auditLogConfigs: [{ logType: DATA_READ }] }] },
      {},
      { auditConfigs: [{ service: "allServices", auditLogConfigs: [{ logType: DATA_READ, exemptedMembers: [BOB] }] }] },
    );
    expect(audited(links, "policy.v1.PolicyService", DATA_READ, [ADA])).toBe(true);
    expect(audited(links, "policy.v1.PolicyService", DATA_READ, [BOB])).toBe(false);
    expect(audited(links, "policy.v1.PolicyService", DATA_READ, [ADA, BOB])).toBe(false);
  });
});
