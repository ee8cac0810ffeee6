// The service's own authorization (domain/access/authorizer.ts) over a real SQLite store: what each question answers
// for a caller holding a permission, one who may only see the resource, one who may not see it, an administrator and
// development mode — and that a hidden resource answers exactly as an absent one.
import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { SharedPolicySchema } from "../../gen/policy/v1/shared_policy_pb.js";
import { Access } from "../../src/domain/access/access.js";
import { Authorizer, type Caller } from "../../src/domain/access/authorizer.js";
import { ServiceError } from "../../src/service-error.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { binding, defaultSchema, policy } from "../helpers/fixtures.js";
import { createResource } from "../../src/store/store.js";
import { updateSharedPolicy } from "../../src/domain/kinds.js";

const ROOT = "user:root@example.com";
const ORG = "organizations/o";
const CLOUD = "clouds/c";
const PROJECT = "projects/p";
const ABSENT = "projects/absent";
const as = (email: string): Caller => ({ principal: `user:${email}`, identities: [`user:${email}`] });
/** Owner of the project; reader of the project (projects.get only); nothing. */
const OWNER = as("owner@example.com");
const READER = as("reader@example.com");
const STRANGER = as("stranger@example.com");
const ADMIN: Caller = { principal: ROOT, identities: [ROOT, "group:admins"] };
const ADMIN_BY_GROUP: Caller = { principal: "user:someone@example.com", identities: ["user:someone@example.com", "group:admins"] };

let store: Store;
let access: Access;

beforeEach(async () => {
  store = new SqliteStore(":memory:");
  access = new Access(store, defaultSchema);
  const actor = { principal: ROOT };
  await createResource(store, { name: ORG, parent: "", type: "organization", displayName: "" }, actor);
  await createResource(store, { name: CLOUD, parent: ORG, type: "cloud", displayName: "" }, actor);
  await createResource(store, { name: PROJECT, parent: CLOUD, type: "project", displayName: "" }, actor);
  await store.updatePolicy(PROJECT, () => policy({ bindings: [binding("roles/owner", [OWNER.principal]), binding("roles/readonly", [READER.principal])] }), actor);
  // The reader may list the cloud's projects, not see the cloud itself.
  await store.updatePolicy(CLOUD, () => policy({ bindings: [binding("roles/readonly", [OWNER.principal])] }), actor);
});

afterEach(async () => {
  await store.close();
});

const enforcing = () => new Authorizer(access, defaultSchema, new Set(["group:admins"]), true);
const development = () => new Authorizer(access, defaultSchema, new Set(), false);

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceError);
  return { code: (error as ServiceError).code, message: (error as ServiceError).message };
}

const NOT_FOUND = (name: string) => ({ code: "not_found", message: `resource "${name}" not found; register it with ResourceService.CreateResource` });

describe("require", () => {
  test("passes a holder, refuses one who sees the resource with PERMISSION_DENIED, and one who does not as NOT_FOUND", async () => {
    const authorizer = enforcing();
    const project = () => access.resolve(PROJECT);
    await expect(authorizer.require(OWNER, project(), "projects.delete")).resolves.toBeUndefined();
    expect(await failure(authorizer.require(READER, project(), "projects.delete"))).toEqual({
      code: "permission_denied",
      message: `${READER.principal} lacks permission "projects.delete" on "${PROJECT}"; ask an owner of it or of an ancestor for a role that grants it`,
    });
    expect(await failure(authorizer.require(STRANGER, project(), "projects.delete"))).toEqual(NOT_FOUND(PROJECT));
    expect(await failure(authorizer.require(OWNER, access.resolve(ABSENT), "projects.delete"))).toEqual(NOT_FOUND(ABSENT));
  });

  test("administrators (by any identity) and development mode pass, even for an absent resource; a malformed name is the handler's", async () => {
    for (const caller of [ADMIN, ADMIN_BY_GROUP]) await expect(enforcing().require(caller, access.resolve(ABSENT), "projects.delete")).resolves.toBeUndefined();
    await expect(development().require(STRANGER, access.resolve(PROJECT), "projects.delete")).resolves.toBeUndefined();
    await expect(enforcing().require(STRANGER, access.resolve("not a name"), "projects.delete")).resolves.toBeUndefined();
    expect(enforcing().isAdmin(STRANGER)).toBe(false);
  });
});

describe("permissionsOf (TestIamPermissions)", () => {
  test("the subset held, in order; NOT_FOUND when the caller may not see the resource or it is absent", async () => {
    const authorizer = enforcing();
    const asked = ["projects.delete", "projects.get", "projects.update"];
    expect(await authorizer.permissionsOf(OWNER, access.resolve(PROJECT), asked)).toEqual(asked);
    expect(await authorizer.permissionsOf(READER, access.resolve(PROJECT), asked)).toEqual(["projects.get"]);
    // Held, then not: the answer is the caller's visibility, not any permission's.
    expect(await authorizer.permissionsOf(READER, access.resolve(PROJECT), ["projects.get", "projects.delete"])).toEqual(["projects.get"]);
    expect(await failure(authorizer.permissionsOf(STRANGER, access.resolve(PROJECT), asked))).toEqual(NOT_FOUND(PROJECT));
    expect(await failure(authorizer.permissionsOf(ADMIN, access.resolve(ABSENT), asked))).toEqual(NOT_FOUND(ABSENT));
    expect(await authorizer.permissionsOf(ADMIN, access.resolve(PROJECT), asked)).toEqual(asked);
    expect(await development().permissionsOf(STRANGER, access.resolve(PROJECT), asked)).toEqual(asked);
  });

  test("unknown permissions are INVALID_ARGUMENT before anything is read", async () => {
    const unknown = await enforcing().permissionsOf(OWNER, access.resolve(PROJECT), ["projects.get", "projects.fly"]).catch((e: unknown) => e as ServiceError);
    expect((unknown as ServiceError).violations.map((v) => v.field)).toEqual(["permissions[1]"]);
    const malformed = await enforcing().permissionsOf(OWNER, access.resolve("projects"), ["projects.get"]).catch((e: unknown) => e as ServiceError);
    expect((malformed as ServiceError).code).toBe("invalid_argument");
    expect((malformed as ServiceError).violations.map((v) => v.field)).toEqual(["resource"]);
  });
});

describe("answers per resource", () => {
  test("holdsOn: each permission held; all true for administrators and in development mode; all false for an absent resource", async () => {
    const authorizer = enforcing();
    expect(await authorizer.holdsOn(READER, PROJECT, ["projects.get", "projects.delete"])).toEqual([true, false]);
    expect(await authorizer.holdsOn(OWNER, ABSENT, ["projects.get", "projects.delete"])).toEqual([false, false]);
    expect(await authorizer.holdsOn(ADMIN, ABSENT, ["projects.get", "projects.delete"])).toEqual([true, true]);
    expect(await development().holdsOn(STRANGER, PROJECT, ["projects.delete"])).toEqual([true]);
  });

  test("sees: {collection}.get on the resource; false for a malformed name", async () => {
    const authorizer = enforcing();
    expect(await authorizer.sees(READER, PROJECT)).toBe(true);
    expect(await authorizer.sees(READER, CLOUD)).toBe(false);
    expect(await authorizer.sees(OWNER, CLOUD)).toBe(true);
    expect(await authorizer.sees(STRANGER, PROJECT)).toBe(false);
    expect(await authorizer.sees(ADMIN, "not a name")).toBe(false);
  });

  test("holdsIn and heldSince: on the chain given; heldSince is the resource's creation, undefined when not held or absent", async () => {
    const authorizer = enforcing();
    const chain = (await store.ancestry(PROJECT))!;
    expect(authorizer.holdsIn(READER, chain, "projects.get")).toBe(true);
    expect(authorizer.holdsIn(READER, chain, "projects.delete")).toBe(false);
    expect(authorizer.holdsIn(ADMIN, chain, "projects.delete")).toBe(true);
    expect(development().holdsIn(STRANGER, chain, "projects.delete")).toBe(true);
    expect(await authorizer.heldSince(READER, access.resolve(PROJECT), "projects.get")).toBe(chain[0]!.createSeq);
    expect(await authorizer.heldSince(READER, access.resolve(PROJECT), "projects.delete")).toBeUndefined();
    expect(await authorizer.heldSince(READER, access.resolve(ABSENT), "projects.get")).toBeUndefined();
  });

  test("listableUnder: the child types whose list the caller holds; every type (undefined) for administrators", async () => {
    const authorizer = enforcing();
    expect((await authorizer.listableUnder(OWNER, access.resolve(CLOUD)))?.map((t) => t.name)).toEqual(["project"]);
    expect((await authorizer.listableUnder(STRANGER, access.resolve(CLOUD)))?.map((t) => t.name)).toEqual([]);
    expect(await authorizer.listableUnder(ADMIN, access.resolve(CLOUD))).toBeUndefined();
    expect(await development().listableUnder(STRANGER, access.resolve(CLOUD))).toBeUndefined();
    expect(await authorizer.listableUnder(OWNER, access.resolve("not a name"))).toBeUndefined();
    expect((await authorizer.listableUnder(OWNER, access.resolve("clouds/absent")))?.map((t) => t.name)).toEqual([]);
    // An organization's owner lists every child type of an organization, and no type that cannot be one.
    await store.updatePolicy(ORG, () => policy({ bindings: [binding("roles/owner", [STRANGER.principal])] }), { principal: ROOT });
    const underOrg = (await authorizer.listableUnder(STRANGER, access.resolve(ORG)))!.map((t) => t.name);
    expect(underOrg.length).toBeGreaterThan(0);
    for (const name of underOrg) expect(defaultSchema.types.get(name)!.parents).toContain("organization");
    expect(underOrg).not.toContain("organization");
  });

  test("requireAdmin and isUnrestricted: administrators and development mode only", async () => {
    expect(() => enforcing().requireAdmin(OWNER, "create an organization")).toThrow(
      new ServiceError("permission_denied", "only the server's administrators may create an organization"),
    );
    expect(() => enforcing().requireAdmin(ADMIN_BY_GROUP, "create an organization")).not.toThrow();
    expect(() => development().requireAdmin(OWNER, "create an organization")).not.toThrow();
    expect(enforcing().isUnrestricted(OWNER)).toBe(false);
    expect(enforcing().isUnrestricted(ADMIN)).toBe(true);
    expect(development().isUnrestricted(OWNER)).toBe(true);
  });
});

describe("disclosure", () => {
  test("what of a chain an answer may show: links by their permission, deny policies, readable shared policies; all for administrators", async () => {
    const authorizer = enforcing();
    const chain = (await store.ancestry(PROJECT))!;
    expect(authorizer.disclosure(ADMIN, () => "projects.get", (name) => access.resolve(name))).toBeUndefined();
    expect(development().disclosure(STRANGER, () => "projects.get", (name) => access.resolve(name))).toBeUndefined();
    const shown = authorizer.disclosure(OWNER, (link) => (link.startsWith("projects/") ? "projects.getPolicy" : "clouds.get"), (name) => access.resolve(name))!;
    // The owner holds projects.getPolicy on the project, clouds.get on the cloud (readonly there), nothing on the org.
    expect(shown.links(chain)).toEqual([true, true, false]);
    expect(shown.denyPolicies(chain)).toEqual([true, false, false]);
    const actor = { principal: ROOT };
    for (const id of ["readable", "hidden"]) {
      await updateSharedPolicy(store, `sharedPolicies/${id}`, () => ({ policy: create(SharedPolicySchema, { parent: ORG }), type: "shared_policy" }), actor);
    }
    await store.updatePolicy("sharedPolicies/readable", () => policy({ bindings: [binding("roles/readonly", [OWNER.principal])] }), actor);
    expect(await shown.sharedPolicies(["sharedPolicies/hidden", "sharedPolicies/readable", "sharedPolicies/absent"])).toEqual(
      new Set(["sharedPolicies/readable"]),
    );
  });
});
