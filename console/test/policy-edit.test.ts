// The policy editor's model: rows to a policy and back, what two versions differ by, re-applying an edit on top.
import { create } from "@bufbuild/protobuf";
import { describe, expect, test } from "vitest";
import { PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { describeGrant, diff, policyOf, rebase, rowsOf, type Row } from "../src/policy-edit.js";

const owner = (...members: string[]): Row => ({ role: "roles/owner", members });
const reader = (...members: string[]): Row => ({ role: "roles/readonly", members });
const hours = { title: "business hours", expression: "request.time.getHours() < 18", description: "" };

describe("policyOf", () => {
  test("drops rows without members and says which row each binding came from", () => {
    const { policy, rowOfBinding } = policyOf([owner(), reader("user:a@x.io"), owner("user:b@x.io")], new Uint8Array([1]));
    expect(policy.bindings.map((b) => b.role)).toEqual(["roles/readonly", "roles/owner"]);
    expect(rowOfBinding).toEqual([1, 2]);
    expect(policy.version).toBe(1);
    expect(policy.etag).toEqual(new Uint8Array([1]));
  });

  test("a condition makes it version 3, and rowsOf reads it back", () => {
    const { policy } = policyOf([{ role: "roles/owner", condition: hours, members: ["user:a@x.io"] }], new Uint8Array());
    expect(policy.version).toBe(3);
    expect(rowsOf(policy)).toEqual([{ role: "roles/owner", condition: hours, members: ["user:a@x.io"] }]);
  });

  test("rowsOf copies: editing rows leaves the policy alone", () => {
    const policy = create(PolicySchema, { bindings: [{ role: "roles/owner", members: ["user:a@x.io"] }] });
    rowsOf(policy)[0]!.members.push("user:b@x.io");
    expect(policy.bindings[0]!.members).toEqual(["user:a@x.io"]);
  });
});

describe("diff", () => {
  test("grants added and removed, a conditional grant distinct from the plain one", () => {
    const before = [owner("user:a@x.io", "user:b@x.io")];
    const after = [owner("user:a@x.io"), { role: "roles/owner", condition: hours, members: ["user:b@x.io"] }];
    const d = diff(before, after);
    expect(d.added.map(describeGrant)).toEqual(['user:b@x.io as roles/owner (if "business hours")']);
    expect(d.removed.map(describeGrant)).toEqual(["user:b@x.io as roles/owner"]);
  });
});

describe("rebase", () => {
  test("my additions and removals land on their version, theirs are kept", () => {
    const base = [owner("user:a@x.io"), reader("user:r@x.io")];
    const mine = [owner("user:a@x.io", "user:me@x.io")];
    const theirs = [owner("user:a@x.io", "user:them@x.io"), reader("user:r@x.io", "user:r2@x.io")];
    expect(rebase(base, mine, theirs)).toEqual([owner("user:a@x.io", "user:them@x.io", "user:me@x.io"), reader("user:r2@x.io")]);
  });

  test("a grant both added is applied once; a new role gets a new row; emptied rows go", () => {
    const base = [owner("user:a@x.io")];
    const mine = [owner("user:b@x.io"), reader("user:c@x.io")];
    const theirs = [owner("user:a@x.io", "user:b@x.io")];
    expect(rebase(base, mine, theirs)).toEqual([owner("user:b@x.io"), reader("user:c@x.io")]);
  });

  test("a removal of what they already removed is no change", () => {
    expect(rebase([owner("user:a@x.io")], [], [])).toEqual([]);
  });
});
