// Plan and apply an estate (estate.ts) against the server, as Terraform does: `planApply` reads the subtree with its
// etags and lists the changes that make it match the files; `applyPlan` makes them in dependency order (parents before
// children, roles before the policies that grant them, shared policies before their bindings; deletions, only with
// `prune`, children first), each conditional on the etag the plan read, so a concurrent edit stops the apply
// (ApplyAborted) instead of being overwritten. Creations go through ResourceService.ImportResources in large batches.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { DenyPolicySchema, type DenyRule } from "../../gen/policy/v1/deny_policy_pb.js";
import { PolicySchema, type Policy } from "../../gen/policy/v1/policy_pb.js";
import { ResourceSchema } from "../../gen/policy/v1/resource_pb.js";
import { ImportItemSchema, type ImportItem } from "../../gen/policy/v1/resource_service_pb.js";
import { SharedPolicySchema } from "../../gen/policy/v1/shared_policy_pb.js";
import type { PolicyClient } from "./client.js";
import {
  estatePolicy,
  estateRole,
  roleMessage,
  sameDenyRules,
  samePolicy,
  sameRole,
  type Estate,
  type EstateResource,
  type EstateRole,
  type EstateSharedPolicy,
} from "./estate.js";
import { describeTarget } from "./plan-format.js";
import { readSubtree, type ReadOptions, type SubtreeState } from "./subtree-state.js";

/** One change of a plan, with what the plan read (its etag) so that apply can make it conditional. */
export type PlannedChange =
  | { kind: "createResource"; resource: EstateResource }
  | { kind: "updateResource"; name: string; etag: string; from: { parent: string; displayName: string }; to: { parent: string; displayName: string } }
  | { kind: "setPolicy"; resource: string; etag: Uint8Array | undefined; before: Policy | undefined; after: Policy | undefined }
  | { kind: "setDenyPolicy"; resource: string; etag: Uint8Array | undefined; before: DenyRule[]; after: DenyRule[] }
  | { kind: "createRole"; role: EstateRole }
  | { kind: "updateRole"; role: EstateRole; etag: Uint8Array; undelete: boolean }
  | { kind: "createSharedPolicy"; sharedPolicy: EstateSharedPolicy }
  | { kind: "updateSharedPolicy"; sharedPolicy: EstateSharedPolicy; etag: Uint8Array; before: EstateSharedPolicy }
  | { kind: "bind"; sharedPolicy: string; target: string }
  | { kind: "unbind"; sharedPolicy: string; target: string }
  | { kind: "deleteResource"; name: string; etag: string }
  | { kind: "deleteSharedPolicy"; name: string; etag: Uint8Array }
  | { kind: "deleteRole"; name: string; etag: Uint8Array };

export interface Plan {
  subtree: string;
  /** In the order applyPlan makes them. */
  changes: PlannedChange[];
  /** Objects on the server that the files do not have, left alone because `prune` was not asked. */
  unmanaged: string[];
}

export interface PlanOptions extends ReadOptions {
  /** Delete what the files do not have (resources, shared policies, bindings, custom roles). */
  prune?: boolean;
}

/** What would change to make the server's subtree match `estate`. */
export async function planApply(client: PolicyClient, estate: Estate, options: PlanOptions = {}): Promise<Plan> {
  return planAgainst(await readSubtree(client, estate.subtree, options), estate, options.prune ?? false);
}

/** The plan against a state already read (pure). */
export function planAgainst(state: SubtreeState, estate: Estate, prune: boolean): Plan {
  const changes: PlannedChange[] = [];
  const unmanaged: string[] = [];
  const wanted = new Map(estate.resources.map((r) => [r.name, r]));
  // Parents before children: by depth in the estate's hierarchy (a parent outside it counts as depth 0).
  const depth = (name: string, seen = 0): number => {
    const r = wanted.get(name);
    return r && r.parent && seen < wanted.size ? 1 + depth(r.parent, seen + 1) : 0;
  };
  const byDepth = [...estate.resources].sort((a, b) => depth(a.name) - depth(b.name) || cmp(a.name, b.name));
  for (const r of byDepth) {
    const current = state.resources.get(r.name);
    if (!current) changes.push({ kind: "createResource", resource: r });
    else if (current.resource.parent !== r.parent || current.resource.displayName !== r.displayName) {
      changes.push({
        kind: "updateResource",
        name: r.name,
        etag: current.resource.etag,
        from: { parent: current.resource.parent, displayName: current.resource.displayName },
        to: { parent: r.parent, displayName: r.displayName },
      });
    }
  }
  for (const role of estate.roles) {
    const current = state.roles.get(role.name);
    if (!current) changes.push({ kind: "createRole", role });
    else if (current.deleted || !sameRole(estateRole(current), role)) {
      changes.push({ kind: "updateRole", role, etag: current.etag, undelete: current.deleted });
    }
  }
  const sharedBefore = new Map<string, EstateSharedPolicy>();
  for (const sp of estate.sharedPolicies) {
    const current = state.sharedPolicies.get(sp.name);
    if (!current) {
      changes.push({ kind: "createSharedPolicy", sharedPolicy: sp });
      if (sp.policy) changes.push({ kind: "setPolicy", resource: sp.name, etag: undefined, before: undefined, after: sp.policy });
      continue;
    }
    const c = current.sharedPolicy;
    const before: EstateSharedPolicy = {
      name: c.name,
      parent: c.parent,
      displayName: c.displayName,
      description: c.description,
      bindings: estatePolicy(create(PolicySchema, { bindings: c.bindings }))?.bindings ?? [],
      denyRules: c.denyRules,
      targets: current.targets,
    };
    sharedBefore.set(sp.name, before);
    if (
      before.displayName !== sp.displayName ||
      before.description !== sp.description ||
      !samePolicy(create(PolicySchema, { bindings: before.bindings }), create(PolicySchema, { bindings: sp.bindings })) ||
      !sameDenyRules(before.denyRules, sp.denyRules)
    ) {
      changes.push({ kind: "updateSharedPolicy", sharedPolicy: sp, etag: c.etag, before });
    }
    if (!samePolicy(current.policy, sp.policy)) {
      changes.push({ kind: "setPolicy", resource: sp.name, etag: current.policy.etag, before: estatePolicy(current.policy), after: sp.policy });
    }
  }
  for (const r of byDepth) {
    const current = state.resources.get(r.name);
    if (!samePolicy(current?.policy, r.policy)) {
      changes.push({ kind: "setPolicy", resource: r.name, etag: current?.policy.etag, before: estatePolicy(current?.policy), after: r.policy });
    }
    if (!sameDenyRules(current?.deny.rules ?? [], r.denyRules)) {
      changes.push({ kind: "setDenyPolicy", resource: r.name, etag: current?.deny.etag, before: current?.deny.rules ?? [], after: r.denyRules });
    }
  }
  for (const sp of estate.sharedPolicies) {
    const bound = new Set(state.sharedPolicies.get(sp.name)?.targets ?? []);
    for (const target of sp.targets) if (!bound.has(target)) changes.push({ kind: "bind", sharedPolicy: sp.name, target });
  }

  // Deletions: bindings, then resources deepest first, then shared policies and roles.
  const wantedShared = new Map(estate.sharedPolicies.map((sp) => [sp.name, sp]));
  const removals: PlannedChange[] = [];
  for (const [name, current] of state.sharedPolicies) {
    const keep = new Set(wantedShared.get(name)?.targets ?? []);
    for (const target of current.targets) {
      if (!keep.has(target)) removals.push({ kind: "unbind", sharedPolicy: name, target });
    }
  }
  const gone = [...state.resources.values()].filter((r) => !wanted.has(r.resource.name));
  const serverDepth = (name: string): number => {
    let d = 0;
    for (let r = state.resources.get(name); r && r.resource.parent; r = state.resources.get(r.resource.parent)) d++;
    return d;
  };
  gone.sort((a, b) => serverDepth(b.resource.name) - serverDepth(a.resource.name) || cmp(a.resource.name, b.resource.name));
  for (const r of gone) removals.push({ kind: "deleteResource", name: r.resource.name, etag: r.resource.etag });
  for (const [name, current] of state.sharedPolicies) {
    if (!wantedShared.has(name)) removals.push({ kind: "deleteSharedPolicy", name, etag: current.sharedPolicy.etag });
  }
  const wantedRoles = new Set(estate.roles.map((r) => r.name));
  for (const [name, role] of state.roles) {
    if (!role.deleted && !wantedRoles.has(name)) removals.push({ kind: "deleteRole", name, etag: role.etag });
  }
  if (prune) changes.push(...removals);
  else unmanaged.push(...removals.map(describeTarget));
  return { subtree: estate.subtree, changes, unmanaged };
}

/** A concurrent edit (or a conflicting write) stopped the apply: the changes before `change` were made. */
export class ApplyAborted extends Error {
  constructor(
    readonly change: PlannedChange,
    readonly error: ConnectError,
    readonly applied: number,
  ) {
    super(
      `${describeTarget(change)} changed since the plan read it (${Code[error.code]}: ${error.rawMessage}); ` +
        `stopped after ${applied} change(s): plan again and review before applying`,
    );
  }
}

export interface ApplyOptions {
  /** Resources (with their policies) per ImportResources call (default and most: 10,000). */
  importBatch?: number;
  /** Told each change as it is made. */
  onChange?: (change: PlannedChange) => void;
}

export interface ApplyResult {
  /** How many changes were made. */
  applied: number;
}

/**
 * Makes the plan's changes in order. Each write is conditional on what the plan read: an etag, or for a creation that
 * nothing of the name exists. The first refusal stops the apply with ApplyAborted (ABORTED, ALREADY_EXISTS, NOT_FOUND
 * or FAILED_PRECONDITION from a concurrent edit) or the call's own error.
 */
export async function applyPlan(client: PolicyClient, plan: Plan, options: ApplyOptions = {}): Promise<ApplyResult> {
  const batch = Math.min(options.importBatch ?? 10_000, 10_000);
  let applied = 0;
  const changes = plan.changes;
  // Creations of resources (and the first policy of each) go through the bulk import.
  const created = new Set(changes.filter((c) => c.kind === "createResource").map((c) => (c as { resource: EstateResource }).resource.name));
  const importedPolicies = new Map<string, Policy>();
  for (const c of changes) {
    // A policy that names a custom role waits for the roles (created after the resources).
    if (c.kind === "setPolicy" && created.has(c.resource) && c.after && c.after.bindings.every((b) => b.role.startsWith("roles/"))) {
      importedPolicies.set(c.resource, c.after);
    }
  }
  const creations = changes.filter((c) => c.kind === "createResource");
  for (let i = 0; i < creations.length; i += batch) {
    const chunk = creations.slice(i, i + batch) as Extract<PlannedChange, { kind: "createResource" }>[];
    const items: ImportItem[] = chunk.map(({ resource: r }) =>
      create(ImportItemSchema, {
        resource: create(ResourceSchema, { name: r.name, parent: r.parent, displayName: r.displayName }),
        policy: importedPolicies.get(r.name),
      }),
    );
    const response = await client.resources.importResources({ items });
    const failed = response.errors[0];
    if (failed) {
      // The request's other items were written: they count as made.
      applied += chunk.length - response.errors.length;
      throw refusal(chunk[failed.index]!, new ConnectError(failed.message, failed.code as number as Code), applied);
    }
    applied += chunk.length;
    for (const c of chunk) options.onChange?.(c);
  }
  for (const change of changes) {
    if (change.kind === "createResource") continue;
    if (change.kind === "setPolicy" && importedPolicies.has(change.resource)) continue;
    try {
      await makeChange(client, change);
    } catch (e) {
      throw refusal(change, ConnectError.from(e), applied);
    }
    applied++;
    options.onChange?.(change);
  }
  return { applied };
}

/** A refused change: ApplyAborted when a concurrent edit explains it, else the error naming what was refused (and how
 * many changes were made, the others of its import request included). */
function refusal(change: PlannedChange, error: ConnectError, applied: number): Error {
  if ([Code.Aborted, Code.AlreadyExists, Code.NotFound, Code.FailedPrecondition].includes(error.code)) {
    return new ApplyAborted(change, error, applied);
  }
  return new ConnectError(`${describeTarget(change)}: ${error.rawMessage} (${applied} change(s) made before it)`, error.code, error.metadata);
}

async function makeChange(client: PolicyClient, change: PlannedChange): Promise<void> {
  switch (change.kind) {
    case "createResource":
      await client.resources.createResource({ resource: { name: change.resource.name, parent: change.resource.parent, displayName: change.resource.displayName } });
      return;
    case "updateResource":
      await client.resources.updateResource({
        resource: { name: change.name, parent: change.to.parent, displayName: change.to.displayName, etag: change.etag },
        updateMask: { paths: ["parent", "display_name"] },
      });
      return;
    case "setPolicy":
      if (!change.after) {
        await client.policies.deletePolicy({ resource: change.resource, etag: change.etag });
        return;
      }
      await client.policies.setPolicy({
        resource: change.resource,
        policy: { ...change.after, etag: change.etag ?? new Uint8Array() },
        updateMask: { paths: ["bindings", "etag", "audit_configs"] },
      });
      return;
    case "setDenyPolicy":
      if (change.after.length === 0) {
        await client.denyPolicies.deleteDenyPolicy({ resource: change.resource, etag: change.etag });
        return;
      }
      await client.denyPolicies.setDenyPolicy({
        resource: change.resource,
        denyPolicy: create(DenyPolicySchema, { resource: change.resource, rules: change.after, etag: change.etag }),
      });
      return;
    case "createRole": {
      const parent = change.role.name.slice(0, change.role.name.indexOf("/roles/"));
      const roleId = change.role.name.slice(parent.length + "/roles/".length);
      await client.roles.createRole({ parent, roleId, role: roleMessage(change.role) });
      return;
    }
    case "updateRole": {
      let etag = change.etag;
      if (change.undelete) etag = (await client.roles.undeleteRole({ name: change.role.name, etag })).etag;
      await client.roles.updateRole({
        role: roleMessage(change.role, etag),
        updateMask: { paths: ["title", "description", "included_permissions", "stage"] },
      });
      return;
    }
    case "createSharedPolicy": {
      const sp = change.sharedPolicy;
      await client.sharedPolicies.createSharedPolicy({
        parent: sp.parent,
        sharedPolicyId: sp.name.slice(sp.name.indexOf("/") + 1),
        sharedPolicy: create(SharedPolicySchema, { displayName: sp.displayName, description: sp.description, bindings: sp.bindings, denyRules: sp.denyRules }),
      });
      return;
    }
    case "updateSharedPolicy": {
      const sp = change.sharedPolicy;
      await client.sharedPolicies.updateSharedPolicy({
        sharedPolicy: create(SharedPolicySchema, {
          name: sp.name,
          displayName: sp.displayName,
          description: sp.description,
          bindings: sp.bindings,
          denyRules: sp.denyRules,
          etag: change.etag,
        }),
        updateMask: { paths: ["display_name", "description", "bindings", "deny_rules"] },
      });
      return;
    }
    case "bind":
      await client.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: change.sharedPolicy, target: change.target } });
      return;
    case "unbind":
      await client.sharedPolicies.deleteSharedPolicyBinding({ sharedPolicy: change.sharedPolicy, target: change.target });
      return;
    case "deleteResource":
      await client.resources.deleteResource({ name: change.name, etag: change.etag });
      return;
    case "deleteSharedPolicy":
      await client.sharedPolicies.deleteSharedPolicy({ name: change.name, etag: change.etag });
      return;
    case "deleteRole":
      await client.roles.deleteRole({ name: change.name, etag: change.etag });
      return;
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
