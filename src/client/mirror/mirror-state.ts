// The state a mirror holds: the resources of its scope and their ancestors, each with its policy, deny policy, custom
// roles and bound shared policies, as of one change-log sequence. Loaded from a Snapshot, then moved forward change by
// change from Watch; read as chains (a resource and its ancestors), the shape the server's decision code reads from
// its own store. Every link handed to that code is deep-frozen (frozen-value.ts) on first read, so the code's memos (compiled
// bindings and conditions) hold until the value changes, as they do over the server's cache; values are replaced,
// never changed in place.
import { create } from "@bufbuild/protobuf";
import type { DenyPolicy } from "../../../gen/policy/v1/deny_policy_pb.js";
import { PolicySchema, type Policy } from "../../../gen/policy/v1/policy_pb.js";
import { ResourceSchema as ResourceMessage, type Resource } from "../../../gen/policy/v1/resource_pb.js";
import type { Role } from "../../../gen/policy/v1/role_pb.js";
import type { SharedPolicy } from "../../../gen/policy/v1/shared_policy_pb.js";
import type { SnapshotResponse } from "../../../gen/policy/v1/snapshot_service_pb.js";
import { ChangeKind, type Change } from "../../../gen/policy/v1/watch_service_pb.js";
import { deepFreeze } from "../../frozen-value.js";
import type { StoredPolicy } from "../../store/store.js";

interface MirroredResource {
  resource: Resource;
  createSeq: number;
  policy: Policy;
  deny: DenyPolicy | undefined;
  roles: Role[] | undefined;
  /** Names of the shared policies bound to it, sorted. */
  shared: string[];
  /** The snapshot left parts of it out (the mirror's credentials may not read them): its chains are incomplete. */
  withheld: boolean;
  /** Whether it is an ancestor of the scope root, held for its chain only. */
  ancestor: boolean;
  /** Its chain link, built on first read and dropped when anything of it changes. */
  link: StoredPolicy | undefined;
}

/** A chain the mirror can answer from, or why it cannot. */
export type ChainLookup = { chain: StoredPolicy[] } | { absent: true } | { incomplete: string };

/** What applying a change asks of the mirror beyond itself. */
export type ApplyOutcome = "applied" | "resnapshot" | { needsSharedPolicy: string };

const EMPTY_POLICY = deepFreeze(create(PolicySchema, { version: 1 }));

export class MirrorState {
  private readonly resources = new Map<string, MirroredResource>();
  private readonly children = new Map<string, Set<string>>();
  private readonly sharedPolicies = new Map<string, SharedPolicy>();
  /** By shared policy: the resources it is bound to. */
  private readonly holders = new Map<string, Set<string>>();
  /** The change-log sequence the state reflects. */
  sequence = 0n;

  constructor(readonly scope: string) {}

  /** How many resources and shared policies it holds. */
  get size(): { resources: number; sharedPolicies: number } {
    return { resources: this.resources.size, sharedPolicies: this.sharedPolicies.size };
  }

  /** The root of the scope's chain (its organization): the subtree a mirror watches to see its ancestors' changes. */
  watchRoot(): string {
    let name = this.scope;
    for (let node = this.resources.get(name); node && node.resource.parent !== ""; node = this.resources.get(name)) {
      name = node.resource.parent;
    }
    return name;
  }

  /** Adds a snapshot page (pages of one snapshot, in order, into a new state). */
  addSnapshotPage(page: SnapshotResponse): void {
    this.sequence = page.sequence;
    for (const policy of page.sharedPolicies) this.sharedPolicies.set(policy.name, policy);
    for (const item of page.resources) {
      const { name, parent, type } = item.resource!;
      this.put({
        // What a check reads of a resource; its display name, etag and times stay on the server.
        resource: create(ResourceMessage, { name, parent, type }),
        createSeq: 0,
        policy: item.policy ?? EMPTY_POLICY,
        deny: item.denyPolicy && item.denyPolicy.rules.length > 0 ? item.denyPolicy : undefined,
        roles: item.roles.length > 0 ? item.roles : undefined,
        shared: [...item.sharedPolicies].sort(),
        withheld: item.withheld.length > 0,
        ancestor: item.ancestor,
        link: undefined,
      });
    }
  }

  /** The chain of `name` (it, then its ancestors up to the root), when every link of it is held in full. */
  chain(name: string): ChainLookup {
    const first = this.resources.get(name);
    if (!first) return this.inScopeByName(name) ? { absent: true } : { incomplete: `${name} is not in the mirror's scope` };
    if (first.ancestor) return { incomplete: `${name} is above the mirror's scope` };
    const chain: StoredPolicy[] = [];
    for (let node: MirroredResource | undefined = first; node; ) {
      if (node.withheld) return { incomplete: `parts of ${node.resource.name} are withheld from the mirror` };
      const link = this.linkOf(node);
      if (!link) return { incomplete: `a shared policy bound to ${node.resource.name} is unknown to the mirror` };
      chain.push(link);
      const parent: string = node.resource.parent;
      if (parent === "") break;
      node = this.resources.get(parent);
      if (!node) return { incomplete: `${parent}, an ancestor of ${name}, is not in the mirror` };
    }
    return { chain };
  }

  /** Applies one change (in sequence order); says when it needs more than the change to stay exact. */
  apply(change: Change): ApplyOutcome {
    const outcome = this.applyChange(change);
    if (outcome === "applied") this.sequence = change.sequence;
    return outcome;
  }

  /** Moves the sequence on without a change (a progress message, a batch's end). */
  advance(sequence: bigint): void {
    if (sequence > this.sequence) this.sequence = sequence;
  }

  /** The content of a shared policy fetched for a binding whose content the mirror lacked. */
  learnSharedPolicy(policy: SharedPolicy): void {
    this.sharedPolicies.set(policy.name, policy);
    for (const holder of this.holders.get(policy.name) ?? []) this.touch(holder);
  }

  private applyChange(change: Change): ApplyOutcome {
    const name = change.resource;
    const node = this.resources.get(name);
    switch (change.kind) {
      case ChangeKind.POLICY_SET:
      case ChangeKind.POLICY_DELETED:
        if (node) {
          node.policy = change.policy && change.kind === ChangeKind.POLICY_SET ? change.policy : EMPTY_POLICY;
          this.touch(name);
        }
        return "applied";
      case ChangeKind.DENY_POLICY_SET:
      case ChangeKind.DENY_POLICY_DELETED:
        if (node) {
          const deny = change.kind === ChangeKind.DENY_POLICY_SET ? change.denyPolicy : undefined;
          node.deny = deny && deny.rules.length > 0 ? deny : undefined;
          this.touch(name);
        }
        return "applied";
      case ChangeKind.ROLE_CHANGED:
        if (node && change.role) {
          const roles = (node.roles ?? []).filter((r) => r.name !== change.role!.name);
          roles.push(change.role);
          node.roles = roles.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
          this.touch(name);
        }
        return "applied";
      case ChangeKind.RESOURCE_CREATED:
        if (!node && this.inScopeByName(change.parent)) {
          const resource = create(ResourceMessage, { name, parent: change.parent, type: change.resourceType });
          this.put({ resource, createSeq: Number(change.sequence), policy: EMPTY_POLICY, deny: undefined, roles: undefined, shared: [], withheld: false, ancestor: false, link: undefined });
        }
        return "applied";
      case ChangeKind.RESOURCE_UPDATED:
        return "applied";
      case ChangeKind.RESOURCE_MOVED:
        return this.move(change, node);
      case ChangeKind.RESOURCE_DELETED:
        if (node) this.remove(name);
        return "applied";
      case ChangeKind.SHARED_POLICY_CREATED:
      case ChangeKind.SHARED_POLICY_UPDATED:
        if (change.sharedPolicy) this.learnSharedPolicy(change.sharedPolicy);
        return "applied";
      case ChangeKind.SHARED_POLICY_DELETED:
        this.sharedPolicies.delete(name);
        return "applied";
      case ChangeKind.SHARED_POLICY_BOUND:
      case ChangeKind.SHARED_POLICY_UNBOUND: {
        const policy = change.sharedPolicyBinding?.sharedPolicy;
        if (!node || !policy) return "applied";
        const bound = change.kind === ChangeKind.SHARED_POLICY_BOUND;
        node.shared = bound ? [...new Set([...node.shared, policy])].sort() : node.shared.filter((s) => s !== policy);
        const holders = this.holders.get(policy) ?? new Set();
        if (bound) holders.add(name);
        else holders.delete(name);
        this.holders.set(policy, holders);
        this.touch(name);
        return bound && !this.sharedPolicies.has(policy) ? { needsSharedPolicy: policy } : "applied";
      }
      default:
        // A kind this SDK does not know: what it changed cannot be followed.
        return "resnapshot";
    }
  }

  /**
   * A move within the scope changes a parent pointer (the subtree follows); out of it, the subtree is dropped; into it
   * from outside, or of a held resource to a parent the mirror does not hold, the mirror lacks state: re-snapshot.
   */
  private move(change: Change, node: MirroredResource | undefined): ApplyOutcome {
    const name = change.resource;
    if (!node) return this.inScopeByName(change.parent) ? "resnapshot" : "applied";
    if (node.ancestor || !this.resources.has(change.parent)) return "resnapshot";
    if (!this.inScopeByName(change.parent)) {
      this.remove(name);
      return "applied";
    }
    this.children.get(node.resource.parent)?.delete(name);
    node.resource = create(ResourceMessage, { name, parent: change.parent, type: node.resource.type });
    this.childrenOf(change.parent).add(name);
    this.touch(name);
    return "applied";
  }

  /** Whether `name` is the scope root or a held resource beneath it. */
  private inScopeByName(name: string): boolean {
    for (let current = name; current !== ""; ) {
      if (current === this.scope) return true;
      const node = this.resources.get(current);
      if (!node || node.ancestor) return false;
      current = node.resource.parent;
    }
    return false;
  }

  private put(node: MirroredResource): void {
    const name = node.resource.name;
    this.resources.set(name, node);
    if (node.resource.parent !== "") this.childrenOf(node.resource.parent).add(name);
    for (const policy of node.shared) {
      const holders = this.holders.get(policy) ?? new Set();
      holders.add(name);
      this.holders.set(policy, holders);
    }
  }

  private childrenOf(name: string): Set<string> {
    let set = this.children.get(name);
    if (!set) this.children.set(name, (set = new Set()));
    return set;
  }

  /** Drops `name` and everything beneath it. */
  private remove(name: string): void {
    const node = this.resources.get(name);
    if (!node) return;
    for (const child of [...(this.children.get(name) ?? [])]) this.remove(child);
    this.children.delete(name);
    this.children.get(node.resource.parent)?.delete(name);
    for (const policy of node.shared) this.holders.get(policy)?.delete(name);
    this.resources.delete(name);
  }

  private touch(name: string): void {
    const node = this.resources.get(name);
    if (node) node.link = undefined;
  }

  private linkOf(node: MirroredResource): StoredPolicy | undefined {
    if (node.link) return node.link;
    const shared: SharedPolicy[] = [];
    for (const name of node.shared) {
      const policy = this.sharedPolicies.get(name);
      if (!policy) return undefined;
      shared.push(policy);
    }
    // Deep-frozen when first read, not when loaded: most of a large scope is never checked.
    node.link = deepFreeze({
      resource: node.resource,
      createSeq: node.createSeq,
      policy: node.policy,
      ...(node.deny ? { deny: node.deny } : {}),
      ...(node.roles ? { roles: node.roles } : {}),
      ...(shared.length > 0 ? { shared } : {}),
    });
    return node.link;
  }
}
