// Writes that arrive together commit together (one fsync), yet each stays its own all-or-nothing unit.
import { create } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { BindingSchema, PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { ServiceError } from "../../src/errors.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";

const actor = { principal: "user:test@example.com" };
let dir: string;
let store: SqliteStore;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "group-commit-"));
  store = new SqliteStore(join(dir, "policy.db"));
  await store.createResource({ name: "organizations/acme", parent: "", type: "organization", displayName: "" }, actor);
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const policyGranting = (member: string) =>
  create(PolicySchema, { version: 1, bindings: [create(BindingSchema, { role: "roles/owner", members: [member] })] });

test("concurrent writes all land, in order, each seeing the one before it", async () => {
  const seen: number[] = [];
  const writes = Array.from({ length: 20 }, (_, i) =>
    store.updatePolicy(
      "organizations/acme",
      (stored) => {
        seen.push(stored.policy.bindings[0]?.members.length ?? 0);
        const members = [...(stored.policy.bindings[0]?.members ?? []), `user:u${i}@example.com`];
        return create(PolicySchema, { version: 1, bindings: [create(BindingSchema, { role: "roles/owner", members })] });
      },
      actor,
    ),
  );
  const results = await Promise.all(writes);
  expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
  expect(results.at(-1)!.bindings[0]!.members).toHaveLength(20);
  const etags = new Set(results.map((p) => Buffer.from(p.etag).toString("hex")));
  expect(etags.size).toBe(20);
  const audit = await store.listAuditRecords({ resource: "organizations/acme", limit: 100 });
  expect(audit.filter((r) => r.action === "policy.set")).toHaveLength(20);
});

test("a write that throws changes nothing, and the writes around it still commit", async () => {
  const before = await store.getPolicy("organizations/acme");
  const first = store.updatePolicy("organizations/acme", () => policyGranting("user:a@example.com"), actor);
  const failing = store.updatePolicy(
    "organizations/acme",
    () => {
      throw new ServiceError("aborted", "stale");
    },
    actor,
  );
  const last = store.updatePolicy("organizations/acme", () => policyGranting("user:c@example.com"), actor);
  await expect(failing).rejects.toThrow("stale");
  await first;
  const stored = await last;
  expect(stored.bindings[0]!.members).toEqual(["user:c@example.com"]);
  const audit = await store.listAuditRecords({ resource: "organizations/acme", limit: 100 });
  expect(audit.map((r) => r.action)).toEqual(["resource.create", "policy.set", "policy.set"]);
  expect(Buffer.from(audit[1]!.etagBefore!)).toEqual(Buffer.from(before!.policy.etag));
  expect(store.writtenSequence).toBe(audit.at(-1)!.seq);
});
