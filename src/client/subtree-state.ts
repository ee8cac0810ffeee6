// Reads a subtree as it stands on the server, with the etags a conditional apply needs: its resources (walked by
// parent), their policies and deny policies, the custom roles and shared policies of its organizations and the
// shared-policy bindings to its resources. `exportSubtree` drops the etags.
import { Code, ConnectError } from "@connectrpc/connect";
import type { DenyPolicy } from "../../gen/policy/v1/deny_policy_pb.js";
import type { Policy } from "../../gen/policy/v1/policy_pb.js";
import type { Resource } from "../../gen/policy/v1/resource_pb.js";
import { RoleView, type Role } from "../../gen/policy/v1/role_pb.js";
import type { SharedPolicy } from "../../gen/policy/v1/shared_policy_pb.js";
import type { PolicyClient } from "./client.js";
import { canonicalBindings, estatePolicy, estateRole, type Estate } from "./estate.js";

export interface ResourceState {
  resource: Resource;
  policy: Policy;
  deny: DenyPolicy;
}

export interface SharedPolicyState {
  sharedPolicy: SharedPolicy;
  /** Targets in the subtree, sorted. */
  targets: string[];
  /** Its own access policy (with etag). */
  policy: Policy;
}

/** A subtree on the server, every object with its etag. */
export interface SubtreeState {
  subtree: string;
  /** By name; empty when the subtree root does not exist. */
  resources: Map<string, ResourceState>;
  /** Custom roles of the organizations in the subtree, deleted ones included. */
  roles: Map<string, Role>;
  sharedPolicies: Map<string, SharedPolicyState>;
}

export interface ReadOptions {
  /** How many calls run at once (default 16). */
  concurrency?: number;
}

const SHARED_POLICY_TYPE = "shared_policy";
const PAGE = 1000;

/** Reads `subtree` from the server. A root that does not exist reads as an empty subtree. */
export async function readSubtree(client: PolicyClient, subtree: string, options: ReadOptions = {}): Promise<SubtreeState> {
  const concurrency = options.concurrency ?? 16;
  const state: SubtreeState = { subtree, resources: new Map(), roles: new Map(), sharedPolicies: new Map() };
  let root: Resource;
  try {
    root = await client.resources.getResource({ name: subtree });
  } catch (e) {
    if (ConnectError.from(e).code === Code.NotFound) return state;
    throw e;
  }
  // The hierarchy, level by level; shared policies are resources too (children of their organization).
  const resources: Resource[] = [root];
  const sharedNames: string[] = [];
  let level = [root];
  while (level.length > 0) {
    const children = await pool(level, concurrency, (parent) =>
      pages((pageToken) => client.resources.listResources({ parent: parent.name, pageSize: PAGE, pageToken }).then((r) => [r.resources, r.nextPageToken])),
    );
    level = [];
    for (const child of children.flat()) {
      if (child.type === SHARED_POLICY_TYPE) sharedNames.push(child.name);
      else level.push(child);
    }
    resources.push(...level);
  }
  const attached = await pool(resources, concurrency, async (resource) => {
    const [policy, deny] = await Promise.all([
      client.policies.getPolicy({ resource: resource.name, options: { requestedPolicyVersion: 3 } }),
      client.denyPolicies.getDenyPolicy({ resource: resource.name }),
    ]);
    return { resource, policy, deny };
  });
  for (const r of attached) state.resources.set(r.resource.name, r);

  const roots = resources.filter((r) => r.parent === "");
  for (const roles of await pool(roots, concurrency, (org) =>
    pages((pageToken) =>
      client.roles
        .listRoles({ parent: org.name, view: RoleView.FULL, showDeleted: true, pageSize: PAGE, pageToken })
        .then((r) => [r.roles, r.nextPageToken]),
    ),
  )) {
    for (const role of roles) state.roles.set(role.name, role);
  }

  const shared = await pool(sharedNames, concurrency, async (name) => {
    const [sharedPolicy, bindings, policy] = await Promise.all([
      client.sharedPolicies.getSharedPolicy({ name }),
      pages((pageToken) =>
        client.sharedPolicies.listSharedPolicyBindings({ sharedPolicy: name, pageSize: PAGE, pageToken }).then((r) => [r.bindings, r.nextPageToken]),
      ),
      client.policies.getPolicy({ resource: name, options: { requestedPolicyVersion: 3 } }),
    ]);
    const targets = bindings.map((b) => b.target).filter((t) => state.resources.has(t)).sort();
    return { sharedPolicy, targets, policy };
  });
  for (const sp of shared) state.sharedPolicies.set(sp.sharedPolicy.name, sp);
  return state;
}

/** What the subtree is, without etags and times: what `policy export` writes. */
export function estateOf(state: SubtreeState): Estate {
  const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return {
    subtree: state.subtree,
    resources: [...state.resources.values()]
      .map(({ resource, policy, deny }) => ({
        name: resource.name,
        parent: resource.parent,
        displayName: resource.displayName,
        policy: estatePolicy(policy),
        denyRules: deny.rules,
      }))
      .sort(byName),
    roles: [...state.roles.values()].filter((r) => !r.deleted).map(estateRole).sort(byName),
    sharedPolicies: [...state.sharedPolicies.values()]
      .map(({ sharedPolicy: sp, targets, policy }) => ({
        name: sp.name,
        parent: sp.parent,
        displayName: sp.displayName,
        description: sp.description,
        bindings: canonicalBindings(sp.bindings),
        denyRules: sp.denyRules,
        targets,
        policy: estatePolicy(policy),
      }))
      .sort(byName),
  };
}

/** Exports a subtree: its estate, ready for `writeEstateDir` (or `estateFiles`). NOT_FOUND when it does not exist. */
export async function exportSubtree(client: PolicyClient, subtree: string, options: ReadOptions = {}): Promise<Estate> {
  const state = await readSubtree(client, subtree, options);
  if (state.resources.size === 0) throw new ConnectError(`resource "${subtree}" not found`, Code.NotFound);
  return estateOf(state);
}

/** Every item of a paginated list. */
async function pages<T>(fetch: (pageToken: string) => Promise<[T[], string]>): Promise<T[]> {
  const all: T[] = [];
  let token = "";
  do {
    const [items, next] = await fetch(token);
    all.push(...items);
    token = next;
  } while (token !== "");
  return all;
}

/** Maps `items` through `fn` with at most `limit` calls at once, keeping their order. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
