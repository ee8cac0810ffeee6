// Who-can weighs each deny rule against every member found; a rule's condition reads the request and the target,
// never the member, so it is evaluated once per lookup and charged to the lookup's budget (a policy with thousands of
// members and a costly deny condition must not multiply that cost by the members).
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { AccessState } from "../../gen/policy/v1/access_service_pb.js";
import { DenyRuleSchema } from "../../gen/policy/v1/deny_policy_pb.js";
import { ResourceSchema } from "../../gen/policy/v1/resource_pb.js";
import { weighDenials, type HeldRule } from "../../src/domain/access/lookup-denials.js";
import { ConditionBudget } from "../../src/domain/conditions.js";
import { ALL_AUTHENTICATED_USERS, ALL_USERS } from "../../src/domain/members.js";

const target = create(ResourceSchema, { name: "projects/p1", type: "project" });

function rule(expression: string, exceptionPrincipals: string[] = [], deniedPrincipals = [ALL_USERS]): HeldRule {
  return {
    rule: create(DenyRuleSchema, {
      deniedPrincipals,
      exceptionPrincipals,
      deniedPermissions: ["projects.getPolicy"],
      denialCondition: { expression },
    }),
    source: { link: 0, sharedPolicy: "" },
  };
}

function weigh(expression: string, members: string[], budget: ConditionBudget) {
  return weighDenials(target, [rule(expression)], { evaluate: true, attributes: new Map(), requestTime: timestampNow(), budget }, members);
}

const members = (n: number) => Array.from({ length: n }, (_, i) => `user:u${i}@example.com`);
// Costly enough to show in the budget, cheap enough for one evaluation.
const COSTLY = "resource.name.matches('^projects/[a-z0-9]+$') && resource.name.startsWith('projects/')";

describe("who-can deny conditions", () => {
  it("are charged to the lookup's budget once, however many members they are weighed against", () => {
    const one = new ConditionBudget();
    weigh(COSTLY, members(1), one);
    expect(one.spent).toBeGreaterThan(0);
    const many = new ConditionBudget();
    const verdicts = weigh(COSTLY, members(200), many);
    expect(many.spent).toBe(one.spent);
    expect(verdicts.size).toBe(200);
    for (const verdict of verdicts.values()) expect(verdict.state).toBe(AccessState.DENIED);
  });

  it("a lookup whose budget is spent weighs the rule as unknown, never as not denying", () => {
    const spent = new ConditionBudget(1);
    const verdicts = weigh(COSTLY, members(3), spent);
    for (const verdict of verdicts.values()) expect(verdict.state).toBe(AccessState.UNKNOWN_CONDITIONAL);
  });

  it("a member wholly inside a rule's exceptions keeps its grant, neither denied nor partly denied", () => {
    const verdicts = weighDenials(
      target,
      [rule("true", ["user:u0@example.com"])],
      { evaluate: true, attributes: new Map(), requestTime: timestampNow(), budget: new ConditionBudget() },
      ["user:u0@example.com", "user:u1@example.com"],
    );
    expect(verdicts.get("user:u0@example.com")).toEqual({ state: AccessState.NOT_GRANTED, partly: new Map() });
    expect(verdicts.get("user:u1@example.com")?.state).toBe(AccessState.DENIED);
  });

  it("a rule on everyone, or on everyone authenticated, denies the members that stand for them", () => {
    const evaluation = { evaluate: true, attributes: new Map(), requestTime: timestampNow(), budget: new ConditionBudget() };
    const onEveryone = weighDenials(target, [rule("true")], evaluation, [ALL_USERS, ALL_AUTHENTICATED_USERS]);
    expect(onEveryone.get(ALL_USERS)?.state).toBe(AccessState.DENIED);
    expect(onEveryone.get(ALL_AUTHENTICATED_USERS)?.state).toBe(AccessState.DENIED);
    const onAuthenticated = weighDenials(target, [rule("true", [], [ALL_AUTHENTICATED_USERS])], evaluation, [ALL_USERS, ALL_AUTHENTICATED_USERS]);
    expect(onAuthenticated.get(ALL_AUTHENTICATED_USERS)?.state).toBe(AccessState.DENIED);
    // Everyone keeps the grant, except the authenticated part of it.
    expect(onAuthenticated.get(ALL_USERS)).toEqual({
      state: AccessState.NOT_GRANTED,
      partly: new Map([[ALL_AUTHENTICATED_USERS, [{ link: 0, sharedPolicy: "" }]]]),
    });
  });
});
