// The one persistence interface. Every write is one transaction that also appends its change-log row; the SQLite
// store (sqlite/) is the embedded default, and a PostgreSQL store can implement the same interface.
import type { Policy } from "../../gen/policy/v1/policy_pb.js";
import type { Resource } from "../../gen/policy/v1/resource_pb.js";

/** Who made a change, for the change log. */
export interface Actor {
  principal: string;
}

export interface NewResource {
  name: string;
  /** "" for a root */
  parent: string;
  type: string;
  displayName: string;
}

export interface ResourceChanges {
  /** New parent name ("" for root), when moving. */
  parent?: string;
  displayName?: string;
}

export interface ResourceQuery {
  /** Only direct children of this resource. */
  parent?: string;
  type?: string;
  /** Keyset pagination: only names greater than this. */
  afterName?: string;
  limit: number;
}

/** A resource's policy as stored: canonical bindings and audit configs, the etag and update time set. */
export interface StoredPolicy {
  resource: Resource;
  policy: Policy;
}

export interface PolicyQuery {
  /** Resources of this schema type. */
  type: string;
  /** Only resources beneath this one, at any depth. */
  beneath?: string;
  /** Keyset pagination: only items after this cursor (from ListedPolicy.cursor). */
  afterCursor?: string;
  limit: number;
}

/** A policy in a listing, with the opaque position to continue after. */
export interface ListedPolicy extends StoredPolicy {
  cursor: string;
}

export interface AuditQuery {
  resource: string;
  principal?: string;
  /** Epoch milliseconds, inclusive. */
  startMs?: number;
  /** Epoch milliseconds, exclusive. */
  endMs?: number;
  afterSeq?: number;
  limit: number;
}

/** A change-log row as the audit log shows it. */
export interface AuditRecord {
  seq: number;
  timeMs: number;
  principal: string;
  action: string;
  resource: string;
  etagBefore: Uint8Array | undefined;
  etagAfter: Uint8Array | undefined;
}

export interface Store {
  getResource(name: string): Promise<Resource | undefined>;
  listResources(query: ResourceQuery): Promise<Resource[]>;
  /** ALREADY_EXISTS when the name is taken; NOT_FOUND when the parent is missing. */
  createResource(resource: NewResource, actor: Actor): Promise<Resource>;
  /**
   * Applies `changes` if the resource's etag is still `expectedEtag` (when given), else ABORTED. A new parent must exist
   * (NOT_FOUND) and must not be the resource or one of its descendants (INVALID_ARGUMENT).
   */
  updateResource(name: string, changes: ResourceChanges, expectedEtag: string | undefined, actor: Actor): Promise<Resource>;
  /**
   * Deletes the resource (and its policy) if its etag is still `expectedEtag` (when given, else ABORTED). With
   * children: FAILED_PRECONDITION, unless `cascade`, which deletes the subtree. Returns the names deleted, deepest first.
   */
  deleteResource(name: string, expectedEtag: string | undefined, cascade: boolean, actor: Actor): Promise<string[]>;
  /** The stored policy, or an empty one with a valid etag; undefined when the resource does not exist. */
  getPolicy(resource: string): Promise<StoredPolicy | undefined>;
  /**
   * The resource and its ancestors with their policies (empty ones included), from the resource up to the root;
   * undefined when the resource does not exist. O(depth): from memory when cached, else one query. Like every read,
   * it reflects every write acknowledged before it, by any process sharing the database.
   */
  ancestry(resource: string): Promise<StoredPolicy[] | undefined>;
  /** Policies with at least one binding of resources of one type, in a stable order (by hierarchy position). */
  listPolicies(query: PolicyQuery): Promise<ListedPolicy[]>;
  /**
   * Writes the policy of `resource` in one transaction: `decide` is called with the stored policy (an empty one with
   * a valid etag when none is set) and returns the policy to store (its bindings, audit configs and version), or
   * undefined to delete it; it may throw (a stale etag, a rule) and then nothing is written. NOT_FOUND when the
   * resource does not exist. Returns the stored policy with its new etag. `decide` must be synchronous and pure:
   * concurrent writes are serialised around it, so two writers can never both win.
   */
  updatePolicy(resource: string, decide: (stored: StoredPolicy) => Policy | undefined, actor: Actor): Promise<Policy>;
  /** The highest change-log sequence this store instance has committed (in memory; no I/O). */
  readonly writtenSequence: number;
  /**
   * The highest change-log sequence committed by anyone (other processes sharing the database too), as far as reads
   * made from now on are concerned: they reflect at least every write up to it. Cheap: no query when nothing changed.
   */
  latestSequence(): number;
  /** The change-log rows of one resource, oldest first. */
  listAuditRecords(query: AuditQuery): Promise<AuditRecord[]>;
  /** The key that signs page tokens: made once per database, so tokens survive restarts and work on every replica. */
  pageTokenKey(): Promise<Uint8Array>;
  close(): Promise<void>;
}
