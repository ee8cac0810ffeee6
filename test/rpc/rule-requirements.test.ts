// What each authorization rule requires, call by call, read off the rule table with a Checks that records: the
// permission and the resource of every check, and when a rule asks for nothing (the handler refuses the request, or
// the method checks elsewhere). Written for the mutants of rpc/auth/authorization-rules.ts that the server tests let through
// (docs/testing.md, mutation testing).
import type { DescMessage, DescMethod, MessageInitShape } from "@bufbuild/protobuf";
import { ScalarType, create } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { AccessService } from "../../gen/policy/v1/access_service_pb.js";
import { ResourceService } from "../../gen/policy/v1/resource_service_pb.js";
import { RoleService } from "../../gen/policy/v1/role_service_pb.js";
import { SharedPolicyService } from "../../gen/policy/v1/shared_policy_service_pb.js";
import { SnapshotService } from "../../gen/policy/v1/snapshot_service_pb.js";
import { SyncService } from "../../gen/policy/v1/sync_service_pb.js";
import { AUTHORIZATION_RULES, type Checks } from "../../src/rpc/auth/authorization-rules.js";
import { parseSchema } from "../../src/schema/schema-loader.js";

const schema = parseSchema(readFileSync("schema/default.yaml", "utf8"), "default.yaml");

/** The checks a rule made for `request`, as "permission on resource"; `refused` resources fail their checks. */
async function required(method: DescMethod, request: MessageInitShape<DescMessage>, refused: string[] = []): Promise<string[]> {
  const made: string[] = [];
  const checks: Checks = {
    async require(resource, permission) {
      made.push(`${permission} on ${resource}`);
      if (refused.includes(resource)) throw new Error(`refused on ${resource}`);
    },
    requireAdmin(what) {
      made.push(`admin: ${what}`);
    },
  };
  await AUTHORIZATION_RULES.get(method)!.authorize(create(method.input, request), checks, schema);
  return made;
}

function resourceOf(method: DescMethod, request: MessageInitShape<DescMessage>): string | undefined {
  return AUTHORIZATION_RULES.get(method)!.resource?.(create(method.input, request));
}

describe("UpdateResource: update on the resource; a move also create on the new parent", () => {
  const update = ResourceService.method.updateResource;
  const project = { name: "projects/p", parent: "clouds/c2" };
  test.each([
    ["a display-name change (the parent sent unchanged)", { paths: ["display_name"] }, ["projects.update on projects/p"]],
    ["a move by the parent path", { paths: ["parent"] }, ["projects.update on projects/p", "projects.create on clouds/c2"]],
    ["a full replacement (*)", { paths: ["*"] }, ["projects.update on projects/p", "projects.create on clouds/c2"]],
    ["no mask with a parent (a full replacement)", undefined, ["projects.update on projects/p", "projects.create on clouds/c2"]],
  ])("%s", async (_, updateMask, expected) => {
    expect(await required(update, { resource: project, updateMask })).toEqual(expected);
  });

  test("no mask and no parent: no move, update only", async () => {
    expect(await required(update, { resource: { name: "projects/p" } })).toEqual(["projects.update on projects/p"]);
  });

  test("a move to the top (parent path, empty parent) needs no create anywhere", async () => {
    expect(await required(update, { resource: { name: "projects/p" }, updateMask: { paths: ["parent"] } })).toEqual([
      "projects.update on projects/p",
    ]);
  });

  test("no resource: nothing checked (the handler refuses the request)", async () => {
    expect(await required(update, {})).toEqual([]);
  });
});

describe("roles: predefined roles are public; a custom role's methods check its organization", () => {
  test("GetRole of a predefined role checks nothing and concerns no resource", async () => {
    expect(await required(RoleService.method.getRole, { name: "roles/owner" })).toEqual([]);
    expect(resourceOf(RoleService.method.getRole, { name: "roles/owner" })).toBe("");
  });

  test("GetRole of a custom role: getRole on its organization, which is also the read's resource", async () => {
    const name = "organizations/acme/roles/auditor";
    expect(await required(RoleService.method.getRole, { name })).toEqual(["organizations.getRole on organizations/acme"]);
    expect(resourceOf(RoleService.method.getRole, { name })).toBe("organizations/acme");
  });

  test("a malformed custom role name has no organization to check: nothing checked (the handler refuses it), no TypeError", async () => {
    for (const name of ["organizations/acme/roles/", "bogus"]) {
      expect(await required(RoleService.method.deleteRole, { name })).toEqual([]);
      expect(await required(RoleService.method.getRole, { name })).toEqual([]);
      expect(resourceOf(RoleService.method.getRole, { name })).toBe("");
    }
  });

  test("UpdateRole checks updateRole on the role's organization; without a role, nothing (the handler refuses it)", async () => {
    expect(await required(RoleService.method.updateRole, { role: { name: "organizations/acme/roles/auditor" } })).toEqual([
      "organizations.updateRole on organizations/acme",
    ]);
    expect(await required(RoleService.method.updateRole, {})).toEqual([]);
  });
});

describe("shared policies", () => {
  test("UpdateSharedPolicy checks update on the shared policy; without one, on the empty name (no TypeError)", async () => {
    const name = "organizations/acme/sharedPolicies/base";
    expect(await required(SharedPolicyService.method.updateSharedPolicy, { sharedPolicy: { name } })).toEqual([`sharedPolicies.update on ${name}`]);
    expect(await required(SharedPolicyService.method.updateSharedPolicy, {})).toEqual(["sharedPolicies.update on "]);
  });

  test("CreateSharedPolicyBinding without a binding checks nothing (the handler refuses it)", async () => {
    expect(await required(SharedPolicyService.method.createSharedPolicyBinding, {})).toEqual([]);
  });

  test("ListSharedPolicyBindings: by the shared policy or by the target, never both or neither", async () => {
    const list = SharedPolicyService.method.listSharedPolicyBindings;
    const sharedPolicy = "organizations/acme/sharedPolicies/base";
    expect(await required(list, { sharedPolicy })).toEqual([`sharedPolicies.listBindings on ${sharedPolicy}`]);
    expect(await required(list, { target: "projects/p" })).toEqual(["projects.listSharedPolicyBindings on projects/p"]);
    expect(await required(list, {})).toEqual([]);
    expect(await required(list, { sharedPolicy, target: "projects/p" })).toEqual([]);
    expect(resourceOf(list, { sharedPolicy })).toBe(sharedPolicy);
    expect(resourceOf(list, { target: "projects/p" })).toBe("projects/p");
    expect(resourceOf(list, { sharedPolicy, target: "projects/p" })).toBe(sharedPolicy);
  });

  test("reading or deleting a binding: either half suffices; with neither, the policy half's refusal", async () => {
    const sharedPolicy = "organizations/acme/sharedPolicies/base";
    const request = { sharedPolicy, target: "projects/p" };
    for (const [method, verb] of [[SharedPolicyService.method.getSharedPolicyBinding, "get"], [SharedPolicyService.method.deleteSharedPolicyBinding, "delete"]] as const) {
      expect(await required(method, request)).toEqual([`sharedPolicies.${verb}Binding on ${sharedPolicy}`]);
      expect(await required(method, request, [sharedPolicy])).toEqual([
        `sharedPolicies.${verb}Binding on ${sharedPolicy}`,
        `projects.${verb}SharedPolicyBinding on projects/p`,
      ]);
      await expect(required(method, request, [sharedPolicy, "projects/p"])).rejects.toThrow(`refused on ${sharedPolicy}`);
    }
  });
});

test("CreateResource: create on the parent; without a resource, nothing (the handler refuses it)", async () => {
  expect(await required(ResourceService.method.createResource, { resource: { name: "projects/p", parent: "clouds/c" } })).toEqual([
    "projects.create on clouds/c",
  ]);
  expect(await required(ResourceService.method.createResource, {})).toEqual([]);
});

test("Snapshot and GetSyncStatus need the policy read of their resource", async () => {
  expect(await required(SnapshotService.method.snapshot, { subtree: "clouds/c" })).toEqual(["clouds.getPolicy on clouds/c"]);
  expect(await required(SyncService.method.getSyncStatus, { resource: "projects/p" })).toEqual(["projects.getPolicy on projects/p"]);
});

test("methods about no resource name none for the read audit: GetCallerIdentity, GetConsumer, ListConsumers", () => {
  expect(resourceOf(AccessService.method.getCallerIdentity, {})).toBe("");
  expect(resourceOf(SyncService.method.getConsumer, { name: "consumers/x" })).toBe("");
  expect(resourceOf(SyncService.method.listConsumers, {})).toBe("");
});

/** A request of `method` with every string field, at the top and one message down, set to `name`. */
function filled(method: DescMethod, name: string): MessageInitShape<DescMessage> {
  const fill = (message: DescMessage, depth: number): Record<string, unknown> => {
    const init: Record<string, unknown> = {};
    for (const field of message.fields) {
      if (field.fieldKind === "scalar" && field.scalar === ScalarType.STRING) init[field.localName] = name;
      else if (field.fieldKind === "message" && depth > 0) init[field.localName] = fill(field.message, depth - 1);
    }
    return init;
  };
  return fill(method.input, 1) as MessageInitShape<DescMessage>;
}

test("every rule checks something for a request that names resources, except the methods open by design", async () => {
  const open: string[] = [];
  for (const method of AUTHORIZATION_RULES.keys()) {
    // Custom-role methods need a custom role's name to have an organization to check.
    const name = method.parent.typeName === "policy.v1.RoleService" ? "organizations/acme/roles/r" : "projects/p";
    if ((await required(method, filled(method, name))).length === 0) open.push(`${method.parent.name}/${method.name}`);
  }
  expect(open.sort()).toEqual(OPEN_BY_DESIGN);
});

/**
 * Checked elsewhere or public: who the caller is; TestIamPermissions (about the caller itself; the handler checks the
 * resource is visible); Watch (change by change, domain/watch-visibility.ts); consumers (the Sync facade, against each
 * consumer's scope); ImportResources (item by item, domain/access/import-access.ts); ListSharedPolicyBindings given
 * both a shared policy and a target (refused by the handler).
 */
const OPEN_BY_DESIGN = [
  "AccessService/GetCallerIdentity",
  "PolicyService/TestIamPermissions",
  "ResourceService/ImportResources",
  "SharedPolicyService/ListSharedPolicyBindings",
  "SyncService/AcknowledgeChanges",
  "SyncService/CreateConsumer",
  "SyncService/DeleteConsumer",
  "SyncService/GetConsumer",
  "SyncService/ListConsumers",
  "WatchService/Watch",
];
