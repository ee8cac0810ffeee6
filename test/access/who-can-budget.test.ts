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
import { ALL_USERS } from "../../src/domain/members.js";

const target = create(ResourceSchema, { name: "projects/p1", type: "project" });

function rule(expression: string): HeldRule {
  return {
    rule: create(DenyRuleSchema, {
      deniedPrincipals: [ALL_USERS],
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
});
