// What of a chain an answer may show its caller (domain/access/disclosure.ts), and how CheckAccess leaves the rest out
// of its explanations and says so (partial_explanations), over a real SQLite store; and a bulk import's per-item
// authorization (domain/access/import-access.ts).
import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { CheckAccessRequestSchema } from "../../gen/policy/v1/access_service_pb.js";
import { DenyPolicySchema } from "../../gen/policy/v1/deny_policy_pb.js";
import { SharedPolicySchema } from "../../gen/policy/v1/shared_policy_pb.js";
import { updateBinding, updateDenyPolicy, updateSharedPolicy } from "../../src/domain/kinds.js";
import { Access } from "../../src/domain/access/access.js";
import { Authorizer, type Caller } from "../../src/domain/access/authorizer.js";
import { Readable, type ChainDisclosure } from "../../src/domain/access/disclosure.js";
import { importAuthorizer } from "../../src/domain/access/import-access.js";
import { ServiceError } from "../../src/service-error.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store, StoredPolicy } from "../../src/store/store.js";
import { binding, defaultSchema, policy } from "../helpers/fixtures.js";
import { createResource } from "../../src/store/store.js";

describe("Readable", () => {
  const chain = [] as StoredPolicy[];
  /** Links 0 and 2 shown; deny policies of links 0 and 1 readable; of the shared policies, "sharedPolicies/a" only. */
  function disclosure(calls: string[][]): ChainDisclosure {
    return {
      links: () => [true, false, true],
      denyPolicies: () => {
        calls.push(["denyPolicies"]);
        return [true, true, false];
      },
      sharedPolicies: async (names) => {
        calls.push(["sharedPolicies", ...names]);
        return new Set(names.filter((n) => n === "sharedPolicies/a"));
      },
    };
  }

  test("a binding: on a shown link, of the link's own policy or of a readable shared policy", async () => {
    const calls: string[][] = [];
    const readable = await Readable.of(chain, disclosure(calls), [true, false, true], {
      sharedPolicies: ["", "sharedPolicies/a", "sharedPolicies/b", "sharedPolicies/a", ""],
      denyPolicies: false,
    });
    // Each named shared policy asked about once, the link's own ("") never; deny policies not asked for.
    expect(calls).toEqual([["sharedPolicies", "sharedPolicies/a", "sharedPolicies/b"]]);
    expect(readable.binding({ link: 0, sharedPolicy: "" })).toBe(true);
    expect(readable.binding({ link: 1, sharedPolicy: "" })).toBe(false);
    expect(readable.binding({ link: 0, sharedPolicy: "sharedPolicies/a" })).toBe(true);
    expect(readable.binding({ link: 0, sharedPolicy: "sharedPolicies/b" })).toBe(false);
    expect(readable.binding({ link: 1, sharedPolicy: "sharedPolicies/a" })).toBe(false);
    expect(readable.sharedPolicy("")).toBe(true);
  });

  test("a deny rule: on a shown link, of a readable deny policy, or of a readable shared policy whatever the link's deny policy", async () => {
    const calls: string[][] = [];
    const readable = await Readable.of(chain, disclosure(calls), [true, false, true], { sharedPolicies: ["sharedPolicies/a"], denyPolicies: true });
    expect(calls).toEqual([["sharedPolicies", "sharedPolicies/a"], ["denyPolicies"]]);
    expect(readable.denyRule({ link: 0, sharedPolicy: "" })).toBe(true);
    expect(readable.denyRule({ link: 1, sharedPolicy: "" })).toBe(false);
    expect(readable.denyRule({ link: 2, sharedPolicy: "" })).toBe(false);
    expect(readable.denyRule({ link: 2, sharedPolicy: "sharedPolicies/a" })).toBe(true);
    expect(readable.denyRule({ link: 1, sharedPolicy: "sharedPolicies/a" })).toBe(false);
    expect(readable.denyRule({ link: 0, sharedPolicy: "sharedPolicies/b" })).toBe(false);
  });

  test("nothing named: no question asked; no disclosure (administrators): everything readable", async () => {
    const calls: string[][] = [];
    const none = await Readable.of(chain, disclosure(calls), [true, false, true], { sharedPolicies: ["", ""], denyPolicies: false });
    expect(calls).toEqual([]);
    expect(none.binding({ link: 0, sharedPolicy: "sharedPolicies/z" })).toBe(true);
    const all = await Readable.of(chain, undefined, undefined, { sharedPolicies: ["sharedPolicies/b"], denyPolicies: true });
    expect(all.binding({ link: 1, sharedPolicy: "sharedPolicies/b" })).toBe(true);
    expect(all.denyRule({ link: 2, sharedPolicy: "" })).toBe(true);
  });
});

const ROOT = "user:root@example.com";
const ORG = "organizations/o";
const PROJECT = "projects/p";
const GUARD = "sharedPolicies/guard";
const as = (email: string): Caller => ({ principal: `user:${email}`, identities: [`user:${email}`] });
const CHECKER = as("checker@example.com");

let store: Store;
let access: Access;
let authorizer: Authorizer;

beforeEach(async () => {
  store = new SqliteStore(":memory:");
  access = new Access(store, defaultSchema);
  authorizer = new Authorizer(access, defaultSchema, new Set([ROOT]), true);
  const actor = { principal: ROOT };
  await createResource(store, { name: ORG, parent: "", type: "organization", displayName: "" }, actor);
  await createResource(store, { name: PROJECT, parent: ORG, type: "project", displayName: "" }, actor);
});

afterEach(async () => {
  await store.close();
});

describe("CheckAccess explanations for a caller who may not read all of the chain", () => {
  async function explain(caller: Caller, permission = "projects.delete") {
    const request = create(CheckAccessRequestSchema, { resource: PROJECT, principals: ["user:ada@example.com"], permissions: [permission], explain: true });
    const disclosure = authorizer.disclosure(caller, () => "access.check", (name) => access.resolve(name));
    return access.check(request, access.resolve(PROJECT), disclosure);
  }
  const actor = { principal: ROOT };

  test("a link the caller may not check on is left out, and the answer says it is partial", async () => {
    await store.updatePolicy(PROJECT, () => policy({ bindings: [binding("roles/owner", [CHECKER.principal, "user:ada@example.com"])] }), actor);
    await store.updatePolicy(ORG, () => policy({ bindings: [binding("roles/owner", ["user:ada@example.com"])] }), actor);
    const partial = await explain(CHECKER);
    expect(partial.results[0]!.explanations.map((e) => e.resource)).toEqual([PROJECT]);
    expect(partial.partialExplanations).toBe(true);
    // Without explain there is nothing to leave out: not partial.
    const request = create(CheckAccessRequestSchema, { resource: PROJECT, principals: ["user:ada@example.com"], permissions: ["projects.delete"] });
    const disclosure = authorizer.disclosure(CHECKER, () => "access.check", (name) => access.resolve(name));
    expect((await access.check(request, access.resolve(PROJECT), disclosure)).partialExplanations).toBe(false);
    const whole = await explain({ principal: ROOT, identities: [ROOT] });
    expect(whole.results[0]!.explanations.map((e) => e.resource)).toEqual([PROJECT, ORG]);
    expect(whole.partialExplanations).toBe(false);
  });

  test("a deny rule of a deny policy the caller may not read, and a shared policy it may not read, are left out: partial", async () => {
    // The checker holds access.check on the project and nothing else: not the deny policy's read (an owner's), not
    // the shared policy's.
    await store.updatePolicy(ORG, () => policy({ bindings: [binding("roles/checker", [CHECKER.principal])] }), actor);
    const guardRule = { deniedPrincipals: ["user:ada@example.com"], deniedPermissions: ["projects.update"] };
    await updateSharedPolicy(store, GUARD, () => ({ policy: create(SharedPolicySchema, { parent: ORG, bindings: [binding("roles/owner", ["user:ada@example.com"])], denyRules: [guardRule] }), type: "shared_policy" }), actor);
    await updateBinding(store, GUARD, PROJECT, () => true, actor);
    const bindingsOnly = await explain(CHECKER);
    expect(bindingsOnly.results[0]!.explanations).toEqual([]);
    expect(bindingsOnly.partialExplanations).toBe(true);
    await store.updatePolicy(GUARD, () => policy({ bindings: [binding("roles/readonly", [CHECKER.principal])] }), actor);
    const readable = await explain(CHECKER);
    expect(readable.results[0]!.explanations.map((e) => [e.resource, e.sharedPolicy])).toEqual([[PROJECT, GUARD]]);
    expect(readable.partialExplanations).toBe(false);
    await updateDenyPolicy(store, PROJECT, () => create(DenyPolicySchema, { rules: [{ deniedPrincipals: ["user:ada@example.com"], deniedPermissions: ["projects.delete"] }] }), actor);
    const denied = await explain(CHECKER);
    expect(denied.results[0]!.denyExplanations).toEqual([]);
    expect(denied.results[0]!.explanations.map((e) => e.sharedPolicy)).toEqual([GUARD]);
    expect(denied.partialExplanations).toBe(true);
    // Several permissions, rules of the project's own deny policy and of the readable shared policy: the shared
    // policy's rule is shown, the project's own never (whichever permissions name which).
    const request = create(CheckAccessRequestSchema, { resource: PROJECT, principals: ["user:ada@example.com"], permissions: ["projects.get", "projects.update", "projects.delete"], explain: true });
    await updateDenyPolicy(store, PROJECT, () => create(DenyPolicySchema, { rules: [{ deniedPrincipals: ["user:ada@example.com"], deniedPermissions: ["projects.delete", "projects.update"] }] }), actor);
    const disclosure = authorizer.disclosure(CHECKER, () => "access.check", (name) => access.resolve(name));
    const several = await access.check(request, access.resolve(PROJECT), disclosure);
    expect(several.results.map((r) => r.denyExplanations.map((d) => [d.resource, d.sharedPolicy]))).toEqual([[], [[PROJECT, GUARD]], []]);
    expect(several.partialExplanations).toBe(true);
    // One permission named by both kinds of rule: still only the shared policy's.
    const both = await access.check(create(CheckAccessRequestSchema, { ...request, permissions: ["projects.update"] }), access.resolve(PROJECT), disclosure);
    expect(both.results[0]!.denyExplanations.map((d) => [d.resource, d.sharedPolicy])).toEqual([[PROJECT, GUARD]]);
  });
});

describe("importAuthorizer", () => {
  test("each item as its single write: the anchor seen, its permissions held; a root is the administrators'", async () => {
    const actor = { principal: ROOT };
    await store.updatePolicy(PROJECT, () => policy({ bindings: [binding("roles/readonly", [CHECKER.principal])] }), actor);
    await store.updatePolicy(ORG, () => policy({ bindings: [binding("roles/owner", ["user:owner@example.com"])] }), actor);
    const authorize = importAuthorizer(authorizer, CHECKER);
    const answers = await authorize([
      { index: 0, anchor: PROJECT, permissions: [] },
      { index: 1, anchor: PROJECT, permissions: ["projects.update"] },
      { index: 2, anchor: ORG, permissions: ["projects.create"] },
      { index: 3, anchor: "", permissions: ["organizations.create"] },
    ]);
    expect(answers.map((a) => a && { code: a.code, message: a.message })).toEqual([
      undefined,
      { code: "permission_denied", message: `${CHECKER.principal} lacks permission "projects.update" on "${PROJECT}"; ask an owner of it or of an ancestor for a role that grants it` },
      { code: "not_found", message: `parent resource "${ORG}" not found; register it with ResourceService.CreateResource` },
      { code: "permission_denied", message: "only the server's administrators may create a root resource" },
    ]);
    const owner = await importAuthorizer(authorizer, as("owner@example.com"))([{ index: 0, anchor: ORG, permissions: ["projects.create", "projects.setPolicy"] }]);
    expect(owner).toEqual([undefined]);
    const admin = await importAuthorizer(authorizer, { principal: ROOT, identities: [ROOT] })([{ index: 0, anchor: "", permissions: [] }]);
    expect(admin).toEqual([undefined]);
    expect(answers.filter((a) => a !== undefined).every((a) => a instanceof ServiceError)).toBe(true);
  });
});
