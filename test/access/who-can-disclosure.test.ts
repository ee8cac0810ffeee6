// Who can (LookupMembers) for a caller who may read some of the deny rules that partly deny a member and not others:
// the answer names a denied principal only when the caller may read at least one of the rules denying it (a link's own
// deny policy, or a shared policy bound on the chain), says it is partial when it leaves one out, and asks about the
// links' deny policies only when one of their rules would be named. On an in-memory SQLite store, without a server;
// the caller's rights are a recording ChainDisclosure. Found by mutation testing (docs/testing.md, round 3).
import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { AccessState, LookupMembersRequestSchema, type LookupMembersResponse } from "../../gen/policy/v1/access_service_pb.js";
import { SetDenyPolicyRequestSchema } from "../../gen/policy/v1/deny_policy_service_pb.js";
import { SetPolicyRequestSchema } from "../../gen/policy/v1/policy_service_pb.js";
import { SharedPolicySchema } from "../../gen/policy/v1/shared_policy_pb.js";
import type { ChainDisclosure } from "../../src/domain/access/disclosure.js";
import { Lookups } from "../../src/domain/access/lookups.js";
import { ResolvedResource } from "../../src/domain/access/resolved.js";
import { DenyPolicies } from "../../src/domain/deny-policies.js";
import { updateBinding, updateSharedPolicy } from "../../src/domain/kinds.js";
import { PageTokens } from "../../src/domain/page-token.js";
import { Policies } from "../../src/domain/policies.js";
import { parseSchema } from "../../src/schema/schema-loader.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { createResource, type Store } from "../../src/store/store.js";
import { readFileSync } from "node:fs";

const schema = parseSchema(readFileSync("schema/default.yaml", "utf8"), "default.yaml");
const actor = { principal: "user:root@example.com" };

// The chain of projects/p1: the project (link 0), the cloud (1), the organization (2).
const ORG = "organizations/o1";
const CLOUD = "clouds/c1";
const PROJECT = "projects/p1";
const DOMAIN = "domain:example.com"; // roles/readonly on the cloud: partly denied by rules naming its users
const EVE = "user:eve@example.com";
const FIN = "user:fin@example.com";
const GIL = "user:gil@example.com";
const HAL = "user:hal@example.com";
const SHARED_A = "sharedPolicies/a";
const SHARED_B = "sharedPolicies/b";

let store: Store;
let lookups: Lookups;
let denies: DenyPolicies;

beforeEach(async () => {
  store = new SqliteStore(":memory:");
  const tokens = new PageTokens(await store.pageTokenKey());
  lookups = new Lookups(store, schema, tokens);
  denies = new DenyPolicies(store, schema);
  const put = (name: string, parent: string, type: string) => createResource(store, { name, parent, type, displayName: "" }, actor);
  await put(ORG, "", "organization");
  await put(CLOUD, ORG, "cloud");
  await put(PROJECT, CLOUD, "project");
  await new Policies(store, schema, tokens).set(
    create(SetPolicyRequestSchema, { resource: CLOUD, policy: { version: 3, bindings: [{ role: "roles/readonly", members: [DOMAIN] }] } }),
    actor,
  );
});
afterEach(() => store.close());

function deny(resource: string, deniedPrincipals: string[]) {
  return denies.set(create(SetDenyPolicyRequestSchema, { resource, denyPolicy: { rules: [{ deniedPrincipals, deniedPermissions: ["projects.get"] }] } }), actor);
}

async function sharedDeny(name: string, deniedPrincipals: string[]) {
  const policy = create(SharedPolicySchema, { parent: ORG, denyRules: [{ deniedPrincipals, deniedPermissions: ["projects.get"] }] });
  await updateSharedPolicy(store, name, () => ({ policy, type: "shared_policy" }), actor);
  await updateBinding(store, name, CLOUD, () => true, actor);
}

/**
 * A caller who may read every link's bindings, the deny policies of the links `denyPolicies` says, and the shared
 * policies `shared`; each question asked is recorded in `asked`.
 */
function caller(denyPolicies: boolean[], shared: string[], asked: string[]): ChainDisclosure {
  return {
    links: (chain) => chain.map(() => true),
    denyPolicies: () => {
      asked.push("denyPolicies");
      return denyPolicies;
    },
    sharedPolicies: async (names) => {
      asked.push(`sharedPolicies ${[...names].sort().join(" ")}`);
      return new Set(names.filter((n) => shared.includes(n)));
    },
  };
}

function whoCan(disclosure?: ChainDisclosure): Promise<LookupMembersResponse> {
  return lookups.members(create(LookupMembersRequestSchema, { resource: PROJECT, permission: "projects.get" }), new ResolvedResource(PROJECT, schema, store), disclosure);
}

/** The domain's grant: its state, whether it is partly denied, and the principals named. */
function domainGrant(answer: LookupMembersResponse) {
  const grants = answer.grants.filter((g) => g.member === DOMAIN);
  expect(grants).toHaveLength(1);
  const [g] = grants;
  return { state: AccessState[g!.state], partlyDenied: g!.partlyDenied, deniedPrincipals: g!.deniedPrincipals };
}

describe("who can, for a caller who may read one deny policy naming a principal and not another", () => {
  beforeEach(async () => {
    // eve is denied by the project's deny policy and by the organization's; fin by the organization's only.
    await deny(PROJECT, [EVE]);
    await deny(ORG, [EVE, FIN]);
  });

  test("a principal denied by a readable rule is named even when an unreadable one denies it too; one denied only by unreadable rules is not, and the answer is partial", async () => {
    const asked: string[] = [];
    // The project's and the cloud's deny policies readable, the organization's not.
    const answer = await whoCan(caller([true, true, false], [], asked));
    expect(domainGrant(answer)).toEqual({ state: "GRANTED", partlyDenied: true, deniedPrincipals: [EVE] });
    expect(answer.partial).toBe(true);
    // The deny policies asked about once; no shared policy is named, so none asked about.
    expect(asked).toEqual(["denyPolicies"]);
  });

  test("only the organization's deny policy readable: both named from it", async () => {
    const answer = await whoCan(caller([false, false, true], [], []));
    expect(domainGrant(answer)).toEqual({ state: "GRANTED", partlyDenied: true, deniedPrincipals: [EVE, FIN] });
    expect(answer.partial).toBe(false);
  });

  test("no deny policy readable: the member is still marked partly denied (part of the decision), no principal named, partial", async () => {
    const answer = await whoCan(caller([false, false, false], [], []));
    expect(domainGrant(answer)).toEqual({ state: "GRANTED", partlyDenied: true, deniedPrincipals: [] });
    expect(answer.partial).toBe(true);
  });

  test("every deny policy readable, or no disclosure (administrators): every principal named, not partial", async () => {
    for (const answer of [await whoCan(caller([true, true, true], [], [])), await whoCan()]) {
      expect(domainGrant(answer)).toEqual({ state: "GRANTED", partlyDenied: true, deniedPrincipals: [EVE, FIN] });
      expect(answer.partial).toBe(false);
    }
  });
});

describe("who can, for a caller who may read one shared policy naming a principal and not another", () => {
  beforeEach(async () => {
    // Both bound on the cloud: gil denied by both, hal by b only. No deny policy of a link names anyone.
    await sharedDeny(SHARED_A, [GIL]);
    await sharedDeny(SHARED_B, [GIL, HAL]);
  });

  test("only the readable shared policy's principals are named, partial; the links' deny policies are never asked about", async () => {
    const asked: string[] = [];
    // Reads every link's deny policy, but none of them names a principal: that right is not asked about.
    const answer = await whoCan(caller([true, true, true], [SHARED_A], asked));
    expect(domainGrant(answer)).toEqual({ state: "GRANTED", partlyDenied: true, deniedPrincipals: [GIL] });
    expect(answer.partial).toBe(true);
    expect(asked).toEqual([`sharedPolicies ${SHARED_A} ${SHARED_B}`]);
  });

  test("the other shared policy readable: both named from it, whatever the links' deny policies", async () => {
    const asked: string[] = [];
    const answer = await whoCan(caller([false, false, false], [SHARED_B], asked));
    expect(domainGrant(answer)).toEqual({ state: "GRANTED", partlyDenied: true, deniedPrincipals: [GIL, HAL] });
    expect(answer.partial).toBe(false);
    expect(asked).toEqual([`sharedPolicies ${SHARED_A} ${SHARED_B}`]);
  });

  test("a link's own deny rule beside them: its deny policy is asked about, and decides only its own rule", async () => {
    await deny(PROJECT, [HAL]);
    const asked: string[] = [];
    // The project's deny policy unreadable: hal is named from b; gil from a; nothing left out.
    const answer = await whoCan(caller([false, true, true], [SHARED_A, SHARED_B], asked));
    expect(domainGrant(answer)).toEqual({ state: "GRANTED", partlyDenied: true, deniedPrincipals: [GIL, HAL] });
    expect(answer.partial).toBe(false);
    expect(asked).toEqual([`sharedPolicies ${SHARED_A} ${SHARED_B}`, "denyPolicies"]);
    // Neither shared policy readable: hal's only readable source would be the project's deny policy, which is not.
    const hidden = await whoCan(caller([false, true, true], [], []));
    expect(domainGrant(hidden)).toEqual({ state: "GRANTED", partlyDenied: true, deniedPrincipals: [] });
    expect(hidden.partial).toBe(true);
  });
});
