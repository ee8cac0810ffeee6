// The member-index rows a policy write changes: only those, so a large policy rewritten with the same members writes
// no index row (its SQLite transaction, which holds the event loop, stays short).
import { expect, test } from "vitest";
import { grantChanges } from "../../src/store/rows.js";

const owners = (members: string[]) => [{ role: "roles/owner", members }];

test("the same members under the same roles change nothing, in any order and with duplicates", () => {
  const before = [...owners(["user:a@x.com", "user:b@x.com"]), { role: "roles/readonly", members: ["group:g"] }];
  const after = [{ role: "roles/readonly", members: ["group:g", "group:g"] }, ...owners(["user:b@x.com", "user:a@x.com"])];
  expect(grantChanges(before, after)).toEqual({ added: [], removed: [] });
});

test("an added member is one added row; a dropped one, one removed row", () => {
  expect(grantChanges(owners(["user:a@x.com"]), owners(["user:a@x.com", "user:c@x.com"]))).toEqual({
    added: [{ member: "user:c@x.com", role: "roles/owner" }],
    removed: [],
  });
  expect(grantChanges(owners(["user:a@x.com", "user:c@x.com"]), owners(["user:c@x.com"]))).toEqual({
    added: [],
    removed: [{ member: "user:a@x.com", role: "roles/owner" }],
  });
});

test("a member moved to another role is removed under one and added under the other", () => {
  expect(grantChanges(owners(["user:a@x.com"]), [{ role: "roles/readonly", members: ["user:a@x.com"] }])).toEqual({
    added: [{ member: "user:a@x.com", role: "roles/readonly" }],
    removed: [{ member: "user:a@x.com", role: "roles/owner" }],
  });
});

test("a member granted one role by two bindings (one conditional) keeps its row while either remains", () => {
  const both = [...owners(["user:a@x.com"]), ...owners(["user:a@x.com"])];
  expect(grantChanges(both, owners(["user:a@x.com"]))).toEqual({ added: [], removed: [] });
  expect(grantChanges(both, [])).toEqual({ added: [], removed: [{ member: "user:a@x.com", role: "roles/owner" }] });
});
