// The subject of a check (domain/access/subject.ts): how many principals a request may name, what a malformed one is
// told, and the members a reverse lookup asks the store for.
import { expect, test } from "vitest";
import { MAX_PRINCIPALS, Subject } from "../../src/domain/access/subject.js";
import { Violations } from "../../src/service-error.js";

function violationsOf(principals: string[]) {
  const violations = new Violations();
  Subject.of(principals, violations, "principals");
  return violations.list.map((v) => ({ field: v.field, description: v.description }));
}

const users = (count: number) => Array.from({ length: count }, (_, i) => `user:u${i}@example.com`);

test(`a request may name ${MAX_PRINCIPALS} principals, not one more`, () => {
  expect(violationsOf(users(MAX_PRINCIPALS))).toEqual([]);
  expect(violationsOf(users(MAX_PRINCIPALS + 1))).toEqual([{ field: "principals", description: `at most ${MAX_PRINCIPALS} principals` }]);
});

test("a malformed principal is told what a principal looks like", () => {
  expect(violationsOf(["nonsense"]).map((v) => v.field)).toEqual(["principals[0]"]);
  expect(violationsOf(["user:ada@example.com", "domain:example.com"])).toEqual([
    {
      field: "principals[1]",
      description: '"domain:example.com" is not a principal; expected user:{email}, serviceAccount:{email}, group:{id}, principal://… or principalSet://…',
    },
  ]);
});

test("the members a subject matches: its principals, their domains, allAuthenticatedUsers and allUsers", () => {
  const subject = Subject.of(["user:ada@example.com", "group:admins"], new Violations(), "principals");
  expect([...subject.members].sort()).toEqual(["allAuthenticatedUsers", "allUsers", "domain:example.com", "group:admins", "user:ada@example.com"]);
  expect(Subject.of([], new Violations(), "principals").members).toEqual(["allUsers"]);
});
