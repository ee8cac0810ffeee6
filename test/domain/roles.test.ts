// The custom-role lifecycle rules that need a clock: undelete only within the documented window.
import { create } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { afterEach, expect, test, vi } from "vitest";
import { CreateRoleRequestSchema, DeleteRoleRequestSchema, UndeleteRoleRequestSchema } from "../../gen/policy/v1/role_service_pb.js";
import { PageTokens } from "../../src/domain/page-token.js";
import { Roles, UNDELETE_WINDOW_MS } from "../../src/domain/roles.js";
import { parseSchema } from "../../src/schema/schema-loader.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { createResource } from "../../src/store/store.js";

const schema = parseSchema(readFileSync(new URL("../../schema/default.yaml", import.meta.url), "utf8"), "default.yaml");
const actor = { principal: "user:test@example.com" };

afterEach(() => vi.useRealTimers());

test.each([
  ["just inside the window", UNDELETE_WINDOW_MS - 60_000, true],
  ["after the window", UNDELETE_WINDOW_MS + 60_000, false],
])("a deleted custom role can be undeleted %s", async (_, elapsed, allowed) => {
  vi.useFakeTimers({ toFake: ["Date"] });
  const store = new SqliteStore(":memory:");
  await createResource(store, { name: "organizations/o", parent: "", type: "organization", displayName: "" }, actor);
  const roles = new Roles(store, schema, new PageTokens(await store.pageTokenKey()));
  const name = "organizations/o/roles/deployer";
  await roles.create(create(CreateRoleRequestSchema, { parent: "organizations/o", roleId: "deployer", role: { includedPermissions: ["projects.get"] } }), actor);
  await roles.delete(create(DeleteRoleRequestSchema, { name }), actor);
  vi.setSystemTime(Date.now() + elapsed);
  const undelete = roles.undelete(create(UndeleteRoleRequestSchema, { name }), actor);
  if (allowed) expect((await undelete).deleted).toBe(false);
  else await expect(undelete).rejects.toMatchObject({ code: "failed_precondition" });
  await store.close();
});

test("a custom role on a non-root resource, or with a bad id, is INVALID_ARGUMENT", async () => {
  const store = new SqliteStore(":memory:");
  const roles = new Roles(store, schema, new PageTokens(await store.pageTokenKey()));
  await expect(roles.create(create(CreateRoleRequestSchema, { parent: "projects/p", roleId: "x1y", role: { includedPermissions: ["projects.get"] } }), actor))
    .rejects.toMatchObject({ code: "invalid_argument" });
  await expect(roles.create(create(CreateRoleRequestSchema, { parent: "organizations/o", roleId: "1", role: { includedPermissions: ["projects.get"] } }), actor))
    .rejects.toMatchObject({ code: "invalid_argument" });
  await store.close();
});
