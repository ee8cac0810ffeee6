// The Snapshot facade: streams the state of a subtree as of one change-log sequence, for followers (mirrors, caches)
// that then follow Watch after that sequence. Why one server stream inside one read transaction rather than pages
// fetched by separate calls: a page read later would see later writes, and reading a page "as of N" would need every
// store to keep row versions (or replay the change log backwards); a read transaction gives every page the same state
// on SQLite (WAL) and PostgreSQL (REPEATABLE READ) alike, at the cost of a transaction held while the stream runs —
// which is why a snapshot has a deadline and a bound on how many run at once. Memory is one page: the generator is
// pulled by the transport, which takes the next page only once the previous one is written (connect-node waits for
// 'drain'), so a slow client is held back by the transport's bounded buffers, never by a growing heap.
//
// A snapshot shows what the reads it bundles would: each part of a resource only to a caller that holds its own read's
// permission on it (judged on the snapshot's own chains), the rest left out and marked withheld.
import { create } from "@bufbuild/protobuf";
import type { SharedPolicy } from "../../gen/policy/v1/shared_policy_pb.js";
import {
  SnapshotPart,
  SnapshotResourceSchema,
  type SnapshotRequest,
  type SnapshotResource,
  type SnapshotResponse,
} from "../../gen/policy/v1/snapshot_service_pb.js";
import { ServiceError, Violations, notFound, quoted } from "../service-error.js";
import type { Store, StoreSnapshot, StoredPolicy } from "../store/store.js";
import type { Authorizer, Caller } from "./access/authorizer.js";
import { requireResourceName } from "./names.js";
import { readPermission, SHARED_POLICY_READ, type ReadOf } from "./access/read-permissions.js";
import { policyForVersion } from "./policy-read.js";
import type { ResourceSchema } from "../schema/schema.js";
import { SnapshotPage } from "./snapshot-encoding.js";

export const DEFAULT_SNAPSHOT_PAGE = 500;
export const MAX_SNAPSHOT_PAGE = 2000;

export interface SnapshotLimits {
  /** Snapshots running at once on this server (each holds a read transaction and a connection). */
  maxConcurrent: number;
  /** How long one snapshot may take, from its first read to its last message. */
  maxDurationMs: number;
}

export const DEFAULT_SNAPSHOT_LIMITS: SnapshotLimits = { maxConcurrent: 4, maxDurationMs: 120_000 };

export class Snapshots {
  private running = 0;

  constructor(
    private readonly store: Pick<Store, "openSnapshot">,
    private readonly schema: ResourceSchema,
    private readonly authorizer: Authorizer,
    private readonly limits: SnapshotLimits = DEFAULT_SNAPSHOT_LIMITS,
  ) {}

  /**
   * `encoded`: the transport encodes in binary, so the stored policies are sent as their bytes (snapshot-encoding.ts);
   * otherwise (JSON) every part is a message.
   */
  async *snapshot(request: SnapshotRequest, caller: Caller, signal?: AbortSignal, encoded = false): AsyncGenerator<SnapshotResponse> {
    requireResourceName(this.schema, "subtree", request.subtree);
    const violations = new Violations();
    if (request.pageSize < 0 || request.pageSize > MAX_SNAPSHOT_PAGE) {
      violations.add("page_size", `must be between 0 (the default, ${DEFAULT_SNAPSHOT_PAGE}) and ${MAX_SNAPSHOT_PAGE}`);
    }
    request.resourceTypes.forEach((type, i) => {
      if (!this.schema.types.has(type)) violations.add(`resource_types[${i}]`, `unknown resource type ${quoted(type)}`);
    });
    violations.throwIfAny();
    if (this.running >= this.limits.maxConcurrent) {
      throw new ServiceError(
        "resource_exhausted",
        `${this.limits.maxConcurrent} snapshots are running on this server (the limit); retry with backoff`,
      );
    }
    this.running++;
    let read: StoreSnapshot | undefined;
    try {
      read = await this.store.openSnapshot();
      yield* this.stream(read, request, caller, signal, encoded);
    } finally {
      this.running--;
      await read?.close();
    }
  }

  private async *stream(read: StoreSnapshot, request: SnapshotRequest, caller: Caller, signal: AbortSignal | undefined, encoded: boolean): AsyncGenerator<SnapshotResponse> {
    const started = performance.now();
    const pageSize = request.pageSize || DEFAULT_SNAPSHOT_PAGE;
    const sequence = BigInt(read.sequence);
    const rootChain = await read.ancestry(request.subtree);
    if (!rootChain) throw notFound(request.subtree);
    const view = new SnapshotView(read, this.authorizer, caller);
    // The root's ancestors, root first: their links decide every check beneath the subtree.
    const ancestors = rootChain.slice(1).reverse();
    const page = new SnapshotPage(encoded);
    for (const link of ancestors) {
      const shown = await view.show(link, true, true);
      if (shown) page.add(shown.resource, undefined, shown.shared);
    }
    const types = request.resourceTypes.length > 0 ? request.resourceTypes : undefined;
    let cursor: string | undefined;
    for (;;) {
      if (signal?.aborted) return;
      if (performance.now() - started > this.limits.maxDurationMs) {
        throw new ServiceError(
          "aborted",
          `the snapshot took longer than ${this.limits.maxDurationMs / 1000} s (the limit); retry, or snapshot a smaller subtree`,
        );
      }
      const rows = await read.subtree(request.subtree, cursor, pageSize, types);
      for (const { link, policy } of rows) {
        const spliced = encoded ? policy : undefined;
        const shown = await view.show(link, false, spliced === undefined);
        if (shown) page.add(shown.resource, spliced, shown.shared);
      }
      const last = rows.length < pageSize;
      cursor = rows.at(-1)?.cursor;
      yield page.take(sequence, last);
      if (last) return;
    }
  }
}

/** What of each link one caller's snapshot shows, judged on the snapshot's own chains. */
class SnapshotView {
  /** The chain of the link shown last, root first: the next link's parent is on it (cursor order). */
  private path: StoredPolicy[] = [];
  /** The shared policies already sent, and whether the caller may read each. */
  private readonly sharedSeen = new Map<string, boolean>();
  private readonly unrestricted: boolean;

  constructor(
    private readonly read: StoreSnapshot,
    private readonly authorizer: Authorizer,
    private readonly caller: Caller,
  ) {
    this.unrestricted = authorizer.isUnrestricted(caller);
  }

  /**
   * The link as the snapshot shows it, with the shared policies sent for the first time; undefined: hidden.
   * `withPolicy`: its policy set (false: the caller sends the stored bytes instead).
   */
  async show(link: StoredPolicy, ancestor: boolean, withPolicy: boolean): Promise<{ resource: SnapshotResource; shared: SharedPolicy[] } | undefined> {
    const chain = await this.chainOf(link);
    const name = link.resource.name;
    // The permission's name is made only when it is checked: an unrestricted caller's snapshot checks nothing.
    const holds = (what: ReadOf) => this.unrestricted || this.authorizer.holdsIn(this.caller, chain, readPermission(name, what));
    if (!holds("policy")) return undefined;
    const withheld: SnapshotPart[] = [];
    const resource = create(SnapshotResourceSchema, { resource: link.resource, ancestor });
    if (withPolicy) resource.policy = policyForVersion(link.policy, 3);
    if (holds("denyPolicy")) resource.denyPolicy = link.deny;
    else withheld.push(SnapshotPart.DENY_POLICY);
    if (link.resource.parent === "") {
      if (holds("role")) resource.roles = [...(link.roles ?? [])];
      else withheld.push(SnapshotPart.ROLES);
    }
    const shared: SharedPolicy[] = [];
    if (holds("sharedPolicyBinding")) {
      let hidden = false;
      for (const policy of link.shared ?? []) {
        resource.sharedPolicies.push(policy.name);
        let readable = this.sharedSeen.get(policy.name);
        if (readable === undefined) {
          readable = await this.mayRead(policy.name);
          this.sharedSeen.set(policy.name, readable);
          if (readable) shared.push(policy);
        }
        if (!readable) hidden = true;
      }
      if (hidden) withheld.push(SnapshotPart.SHARED_POLICIES);
    } else {
      withheld.push(SnapshotPart.SHARED_POLICIES);
    }
    resource.withheld = withheld;
    return { resource, shared };
  }

  /** `sharedPolicies.get` on the shared policy, at the snapshot. */
  private async mayRead(sharedPolicy: string): Promise<boolean> {
    if (this.unrestricted) return true;
    const chain = await this.read.ancestry(sharedPolicy);
    return chain !== undefined && this.authorizer.holdsIn(this.caller, chain, SHARED_POLICY_READ.policy);
  }

  /** The link's chain (it, then its ancestors): its parent is on the path of the link before it, or read once. */
  private async chainOf(link: StoredPolicy): Promise<StoredPolicy[]> {
    if (this.unrestricted) return [link];
    const parent = link.resource.parent;
    while (this.path.length > 0 && this.path.at(-1)!.resource.name !== parent) this.path.pop();
    if (this.path.length === 0 && parent !== "") this.path = ((await this.read.ancestry(parent)) ?? []).reverse();
    this.path.push(link);
    return [...this.path].reverse();
  }
}
