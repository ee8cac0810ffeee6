// The one persistence interface: it stores, orders and returns. The domain decides (cycles, binding rules, field
// paths, etag preconditions) in the `decide` callbacks a write runs inside its transaction; the store mints etags from
// revisions and sequences (src/etag.ts). Every write is one transaction that also appends its change-log row.
// Failures are plain StoreErrors (store-error.ts). Attached objects of every kind but allow policies are documents
// (docs/store.md); open-store.ts picks sqlite/ (the embedded default) or postgres/; caching-store.ts is a read cache
// over any implementation; test/store/contract.ts is the conformance suite every implementation passes.
import type { DenyPolicy, DenyRule } from "../../gen/policy/v1/deny_policy_pb.js";
import type { Policy } from "../../gen/policy/v1/policy_pb.js";
import type { Resource } from "../../gen/policy/v1/resource_pb.js";
import type { Role } from "../../gen/policy/v1/role_pb.js";
import type { SharedPolicy, SharedPolicyBinding } from "../../gen/policy/v1/shared_policy_pb.js";
import type { ChangeAction, ChangeSubject } from "./change-actions.js";
import type { StoreError } from "./store-error.js";

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

/** One resource of a batch creation (Store.createResources), with the policy to store on it, if any. */
export interface NewResourceWithPolicy {
  resource: NewResource;
  /** The policy as the domain decided it (bindings, audit configs, version); etag and update time are the store's. */
  policy?: Policy;
}

/** One item's outcome of a batch creation: the resource (and its policy) written, or why the item was not. */
export type CreatedResource = { resource: Resource; policy?: Policy } | { error: StoreError };

/** What a resource write's `decide` may read of the hierarchy, inside the write's transaction. */
export interface HierarchyReader {
  /** `name` and its ancestors' names, from it up to its root; undefined when it does not exist. */
  lineage(name: string): readonly string[] | undefined;
  hasChildren(name: string): boolean;
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

/** A bounded search of resources by text: what ListResources' `filter` asks of a store. */
export interface ResourceSearch {
  /** Only direct children of this resource. */
  parent?: string;
  /** Only resources of these schema types; undefined: every type. */
  types?: readonly string[];
  /** Text that the resource's display name or name contains, compared case-insensitively (ASCII letters at least). */
  text: string;
  /** Keyset pagination: only names greater than this. */
  afterName?: string;
  /** At most this many matches. */
  limit: number;
  /** Examine at most this many resources (in name order, after `afterName`): the search's cost, whatever matches. */
  scan: number;
}

export interface ResourceSearchPage {
  /** The matches, in name order. */
  resources: Resource[];
  /**
   * The last name examined, when `scan` resources were examined and more follow: continue after it. Undefined when
   * the examined range reached the end of the listing.
   */
  scannedTo?: string;
}

/** A resource's policy as stored: canonical bindings and audit configs, the etag and update time set. */
export interface StoredPolicy {
  resource: Resource;
  /**
   * The change-log sequence that created the resource: a change-log row of its name with a smaller sequence is about
   * an earlier resource of the same name (Watch judges each row by the resource it was written to).
   */
  createSeq: number;
  policy: Policy;
  /**
   * The resource's deny policy (with its etag), present only while it has at least one rule: checks read deny rules
   * from the same chain (and cache entry) as bindings.
   */
  deny?: DenyPolicy;
  /**
   * The custom roles defined on the resource (deleted ones included, sorted by name, with their etags), present only
   * when there are some. Only root resources (organizations) define custom roles; bindings below them name them.
   */
  roles?: readonly Role[];
  /**
   * The shared policies bound to the resource (sorted by name, with their etags), present only when there are some:
   * checks and effective policies read them from the same chain (and cache entry) as the resource's own policy.
   */
  shared?: readonly SharedPolicy[];
}

/**
 * Roughly the heap a decoded chain link takes (its resource, policy, deny rules, roles and shared policies): the weight
 * of every memo that keeps links — the read cache's policy memo and Watch's removals memo.
 */
export function estimatedBytes(stored: StoredPolicy): number {
  let members = 0;
  for (const binding of stored.policy.bindings) for (const member of binding.members) members += member.length;
  let denyBytes = 0;
  for (const rule of stored.deny?.rules ?? []) {
    for (const list of [rule.deniedPrincipals, rule.exceptionPrincipals, rule.deniedPermissions, rule.exceptionPermissions]) {
      for (const item of list) denyBytes += item.length * 3;
    }
    denyBytes += 300;
  }
  for (const role of stored.roles ?? []) denyBytes += 400 + role.includedPermissions.length * 60;
  // A shared policy is decoded once per link that holds it: about as much as a policy and a deny policy.
  for (const shared of stored.shared ?? []) {
    denyBytes += 600 + shared.bindings.length * 200 + shared.denyRules.length * 300;
    for (const binding of shared.bindings) for (const member of binding.members) denyBytes += member.length * 3;
  }
  return 600 + stored.resource.name.length * 2 + stored.policy.bindings.length * 200 + members * 3 + denyBytes;
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

/**
 * A listed resource whose stored policy does not decode (damaged data): named with its position, so that a listing
 * reports it and goes on instead of failing whole.
 */
export interface UnreadablePolicy {
  resource: Resource;
  cursor: string;
  /** What failed, for the server log. */
  unreadable: string;
}

// --- Reverse lookups (who can, what can) ---
//
// Cursors order the hierarchy: a resource's cursor sorts (as strings, by code unit) before its descendants', and
// its subtree is exactly the resources whose cursor c has cursor <= c < subtreeEnd. A store keeps an index of
// binding members and roles, maintained in the transaction of every policy write, so that grant points come in
// cursor order at a cost that grows with the page read, not with how many grants are stored.

/** A resource whose policy has a binding of one of a query's roles naming one of its members. */
export interface GrantPoint {
  name: string;
  /** Its position in the hierarchy (see above). */
  cursor: string;
  /** The first cursor after its subtree: the position to continue from once the subtree is done. */
  subtreeEnd: string;
}

export interface GrantQuery {
  /** Binding members exactly as stored, e.g. `user:ada@example.com`, `allUsers`. */
  members: readonly string[];
  /** Role names, e.g. `roles/owner`. */
  roles: readonly string[];
  /** Only grant points in this resource's subtree, it included. */
  beneath?: string;
  /** Keyset pagination: only grant points whose cursor is at or after this one (e.g. a subtreeEnd). */
  fromCursor?: string;
  limit: number;
}

/** Asks the member index for the roles bound to members rather than where (Store.listGrantPoints). */
export interface BoundRolesQuery {
  members: readonly string[];
  boundRoles: true;
}

export interface SubtreeQuery {
  /** Resources of this schema type. */
  type: string;
  /** In this resource's subtree, it included. */
  root: string;
  /** Keyset pagination: only resources whose cursor is after this one. */
  afterCursor?: string;
  limit: number;
}

/** A resource in a listing, with the opaque position to continue after. */
export interface ListedResource {
  resource: Resource;
  cursor: string;
}

/** A listed policy's resource name, position and revision, without the policy. */
export interface ListedName {
  name: string;
  cursor: string;
  /** The sequence the policy's etag is minted from (etag.ts, etagSequence). */
  revision: number;
}

export interface AuditQuery {
  resource: string;
  principal?: string;
  /** Epoch milliseconds, inclusive. */
  startMs?: number;
  /** Epoch milliseconds, exclusive. */
  endMs?: number;
  afterSeq?: number;
  /** Only rows before this sequence. */
  beforeSeq?: number;
  /** Newest first (by sequence descending); default oldest first. */
  newestFirst?: boolean;
  /** Only rows of these actions, e.g. `policy.set`. */
  actions?: readonly string[];
  /**
   * Also the rows of every resource beneath `resource` at the time of the change (its lineage then, or before a move,
   * named it). Not indexed: bound the rows examined with `afterSeq` and `beforeSeq`.
   */
  descendants?: boolean;
  /**
   * Only the rows of the resource registered under this name now (from its creation on): the history of an earlier,
   * deleted resource of the same name is left out — nothing when no resource has the name.
   */
  currentOnly?: boolean;
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
  /** For `policy.set`: the policy written (its etag and update time set). */
  policy?: Policy;
}

/** Whatever changed after a sequence, for caches that must not serve a state older than a commit they follow. */
export interface ChangesSince {
  /** The newest committed change-log sequence (by anyone) that this answer covers. */
  latest: number;
  /**
   * Resources changed after the asked sequence, up to `latest`, by other store instances on the same database (an
   * instance may leave out its own writes: whoever called it saw them); "many" when there were more than the limit.
   * These are the change-log rows' resources: a shared policy's name for a change of its content (a cache evicts
   * every link that holds it), a binding's target for a binding's.
   */
  changed: string[] | "many";
}

// --- Documents attached to resources (deny policies, custom roles: domain/kinds.ts) ---

/** A document as stored: its key ("" for a kind with one per resource), the domain's bytes, its etag and time. */
export interface StoredDocument {
  key: string;
  body: Uint8Array;
  /** Minted from the change-log sequence of its last write. */
  etag: Uint8Array;
  updateTimeMs: number;
}

/** A resource's documents of one kind. */
export interface AttachedDocuments {
  /** The etag of the resource's creation: an absent document's, for a kind that has an empty one by default. */
  createEtag: Uint8Array;
  /** The resource's parent ("" for a root) and creation time, which a document of its own may present. */
  parent: string;
  createTimeMs: number;
  /** By key. */
  documents: readonly StoredDocument[];
}

/** What a document write stores and logs, as `decide` worked it out. */
export interface DocumentWrite {
  /** The bytes to store (a delete stores an empty body: the document's etag moves on). */
  body: Uint8Array;
  /** How many entries the body holds (a deny policy's rules); 0: empty, left out of chain links. */
  entries: number;
  /** The change-log row's action. */
  action: ChangeAction;
  /** The etag the change-log row shows before the write. */
  etagBefore: Uint8Array | null;
  /** The state the change-log row keeps; null for none (a delete). */
  logged: Uint8Array | null;
  /**
   * The member-index rows the document grants (a shared policy's bindings' members and roles), replacing those the
   * resource's document granted; undefined: left as they are. One kind per resource may index grants (the index has
   * no kind column).
   */
  grants?: readonly { member: string; role: string }[];
  /** For an owned document whose resource does not exist: the resource to register with it (no display name). */
  create?: { parent: string; type: string };
}

/**
 * What an owned document's write may return instead of a DocumentWrite: remove its resource, the document with it
 * (and the resource's access policy and every link to or from it), logging `action` against it with the removed
 * resource's deny rules (as a resource delete does).
 */
export interface DocumentRemoval {
  remove: true;
  action: ChangeAction;
  etagBefore: Uint8Array | null;
  /** First remove the links of this kind from the resource, one `{kind}.delete` change-log row each, against its `to` end. */
  unlink?: LinkKind["name"];
}

/** How far a document write reaches beyond its row (Store.updateDocument). */
export interface DocumentWriteOptions {
  /**
   * The document is its resource's own content, the resource existing for it (a shared policy): `decide` is called
   * with undefined when the resource does not exist, and may create it (DocumentWrite.create) or remove it
   * (DocumentRemoval). already_exists when the resource exists without a document of the kind (of the key): it is
   * something else.
   */
  owned?: boolean;
  /** Tell `decide` how many links of this kind start at the resource (LinkCount); without it, none are counted. */
  linksFrom?: LinkKind["name"];
}

/** How many links of a kind start at a resource, and the change-log sequence of the newest (0: none). */
export interface LinkCount {
  count: number;
  newest: number;
}

/** Which resources' documents to list (Store.listDocuments): those of the children of `parent`. */
export interface ChildDocumentsQuery {
  parent: string;
  /** Keyset pagination: only children whose name is greater than this. */
  afterName?: string;
  /** At most this many children. */
  limit: number;
}

/** A resource's documents of a kind, with its name (a listing of several resources'). */
export interface ResourceDocuments extends AttachedDocuments {
  resource: string;
}

// --- Links between resources (shared-policy bindings: domain/kinds.ts) ---

/**
 * A kind of link: its name (stored with each link, and the change-log subject of its writes, which are logged against
 * the link's `to` end) and the kind of document its `from` end holds (a link starts only at a resource holding one).
 */
export interface LinkKind {
  name: Extract<ChangeSubject, "sharedPolicyBinding">;
  from: string;
}

/** A link as stored: its two ends, the change-log sequence that made it (its etag's) and when. */
export interface StoredLink {
  from: string;
  to: string;
  sequence: number;
  createTimeMs: number;
}

export interface LinkQuery {
  /** The links from this resource (ordered by their `to` end's name), or: */
  from?: string;
  /** the links to this resource (ordered by their `from` end's name). Both: at most the one link. */
  to?: string;
  /** Keyset pagination: only links whose other end's name is greater than this. */
  afterName?: string;
  limit: number;
}

/** What a link write's `decide` gets, inside the write's transaction. */
export interface LinkState {
  /** The link when the two are linked. */
  stored: StoredLink | undefined;
  /** The `from` end's documents of the kind's `from` kind (a shared policy's content), as listDocuments. */
  from: AttachedDocuments;
  to: Resource;
  /** The `to` end and its ancestors' names, from it up to its root. */
  toLineage: readonly string[];
  /** How many links of the kind end at `to`. */
  linksTo: number;
  /** How many links of the kind start at `from`. */
  linksFrom: number;
}

// --- The change feed and sync consumers (Watch, SyncService) ---

export { CHANGE_ACTIONS, REMOVALS, changeAction, isChangeAction, type ChangeAction } from "./change-actions.js";

/** A change-log row with what Watch needs to filter, authorize and present it. */
export interface ChangeRecord {
  seq: number;
  timeMs: number;
  principal: string;
  action: ChangeAction;
  resource: string;
  /** The resource's schema type. */
  resourceType: string;
  /** The parent after the change (before it, for a delete); "" for a root. */
  parent: string;
  /** For a `resource.update` that moved the resource: the parent before; undefined otherwise. */
  previousParent?: string;
  /** The resource and its ancestors' names at the time of the change, from it up to its root. */
  lineage: readonly string[];
  /** For a move: the lineage before it. */
  previousLineage?: readonly string[];
  /** For `policy.set`: the policy written, with its etag and update time. */
  policy?: Policy;
  /** For `denyPolicy.set`: the deny policy written, with its etag and update time. */
  denyPolicy?: DenyPolicy;
  /** For `role.*` (logged against the organization that defines the role): the role as written. */
  role?: Role;
  /** For `sharedPolicy.create` and `sharedPolicy.update` (logged against the shared policy): the policy as written. */
  sharedPolicy?: SharedPolicy;
  /** For `sharedPolicyBinding.*` (logged against the binding's target): the binding. */
  sharedPolicyBinding?: SharedPolicyBinding;
  /**
   * For a removal (REMOVALS): the deny rules that applied to the resource from its own chain link when it was removed
   * — its deny policy's, then those of the shared policies bound to it (none: empty) — so that its history is still
   * judged by them once it is gone. Undefined on a row logged before removals recorded them. Never shown to callers.
   */
  denyRulesAtRemoval?: readonly DenyRule[];
}

/**
 * Which change-log rows to read: those after `afterSeq`, at most `limit`, and no more rows than fit in `maxBytes` of
 * stored change (always at least one: a single row larger than that is returned alone), appearing in sequence order with
 * no gap (a sequence is only visible once every smaller one is committed); or those with the sequences `at` that are
 * still retained, one indexed lookup each.
 */
export type ChangeQuery =
  | { afterSeq: number; limit: number; maxBytes?: number }
  | { at: readonly number[] }
  | RemovalQuery;

/**
 * The change-log row that removed the resource named `removalOf` (an action of REMOVALS), the first at or after
 * `fromSeq`: where the resource that had the name at `fromSeq` ended. None when there is none (no removal of the name
 * since: it still exists). Its cost grows with the name's rows from `fromSeq` to the removal.
 */
export interface RemovalQuery {
  removalOf: string;
  fromSeq: number;
}

/**
 * The smallest sequence still in the change log (retention removes older rows; the log has no gaps, so it is the first
 * row after 0); 0 when the log is empty.
 */
export async function oldestSequence(store: Pick<Store, "readChanges">): Promise<number> {
  const [oldest] = await store.readChanges({ afterSeq: 0, limit: 1 });
  return oldest?.seq ?? 0;
}

/**
 * Creates one resource (createResources of one item): the resource, or its item's StoreError thrown — already_exists
 * when the name is taken, not_found (subject: the parent) when the parent is missing.
 */
export async function createResource(store: Pick<Store, "createResources">, resource: NewResource, actor: Actor): Promise<Resource> {
  const [outcome] = await store.createResources([{ resource }], actor);
  if ("error" in outcome!) throw outcome.error;
  return outcome!.resource;
}

/** How much of the change log to keep; `pruneChanges` never removes the newest row (sequences must not restart). */
export interface Retention {
  /** Remove rows committed before this time (epoch milliseconds). */
  beforeMs?: number;
  /** Keep at most this many of the newest rows. */
  keepLast?: number;
}

/** A consumer's scope, as registered. */
export interface NewConsumer {
  name: string;
  displayName: string;
  /** "" for every resource. */
  subtree: string;
  /** Empty for every type. */
  resourceTypes: readonly string[];
  /**
   * The root of `subtree` when the consumer was registered (its organization in the default schema); "" without a
   * subtree. What the bound on consumers per organization counts by.
   */
  root: string;
}

/** A change a consumer reported it could not apply. */
export interface ConsumerFailure {
  resource: string;
  seq: number;
  message: string;
  timeMs: number;
}

/** A consumer's failure for one resource, with the consumer's name. */
export interface ResourceFailure extends ConsumerFailure {
  consumer: string;
}

/** A consumer and its progress; its failures are read per resource (listResourceFailures), never all at once. */
export interface StoredConsumer extends NewConsumer {
  acknowledgedSeq: number;
  /** undefined before the first acknowledgement. */
  acknowledgeTimeMs?: number;
  createTimeMs: number;
  /** How many unresolved failures it has. */
  failureCount: number;
}

export interface Acknowledgement {
  /** The acknowledged sequence becomes max(stored, upTo). */
  upTo: number;
  /** Upserted by (consumer, resource). */
  failures: readonly Omit<ConsumerFailure, "timeMs">[];
  /** Resources whose failure is removed (applied after all). */
  resolved: readonly string[];
  timeMs: number;
}

/** A consumer write (Store.writeConsumer): its creation, an acknowledgement, or its delete. */
export type ConsumerWrite = ConsumerCreate | ConsumerAcknowledgement | ConsumerDelete;

export interface ConsumerCreate {
  create: NewConsumer;
  timeMs: number;
  /**
   * Told how many consumers have the same root, read under the write lock; it may throw, and then nothing is written.
   */
  admit?: (sameRoot: number) => void;
}

export interface ConsumerAcknowledgement {
  /** The consumer's name. */
  acknowledge: string;
  ack: Acknowledgement;
  /**
   * Told how many failures the consumer has before and would have after it; it may throw, and then nothing is written.
   */
  admit?: (failures: { before: number; after: number }) => void;
}

export interface ConsumerDelete {
  /** The consumer's name. */
  delete: string;
}

/**
 * What changed among the consumers after a version: every consumer write (create, acknowledge, delete) takes the next
 * version, so a reader that keeps the consumers in memory reads only what changed since it last looked.
 */
export interface ConsumerChanges {
  /** The version this answer brings the reader to: what it passes next time. */
  version: number;
  /** The consumers created or acknowledged after the version asked about (every consumer after 0), by name. */
  changed: StoredConsumer[];
  /**
   * Every consumer's name, by name, when a consumer was deleted after the version asked about (those missing from
   * it are gone); undefined when none was.
   */
  names?: string[];
}

/** What operators see of the store on /metrics. */
export interface StoreStats {
  /** Bytes the database takes on disk, when the store can tell. */
  sizeBytes?: number;
  /** Entries and estimated heap bytes of the read cache, when there is one. */
  cacheEntries?: number;
  cacheBytes?: number;
  /** The connection pool of a server database, when there is one: its bound, connections open and idle, waiters. */
  pool?: { max: number; open: number; idle: number; waiting: number };
  /** Statements sent to a server database since start, and their total time in seconds (mean latency = ratio). */
  queries?: { count: number; seconds: number };
}

/** A stored policy's bytes as its row holds them, with the columns that complete it (etag, update time). */
export interface EncodedPolicy {
  bytes: Uint8Array;
  revision: number;
  /** Milliseconds since the epoch. */
  updateTime: number;
}

/** A link of a snapshot's subtree, its position, and its stored policy's bytes (Snapshot sends them as they are). */
export interface SnapshotLink {
  link: StoredPolicy;
  cursor: string;
  policy?: EncodedPolicy;
}

/**
 * A consistent read of the store as of one change-log sequence (Snapshot): every read through it sees the same
 * state, whatever is committed meanwhile, until it is closed. It holds a read transaction on a connection of its own:
 * close it promptly (a held SQLite read keeps the WAL from being checkpointed past it; a held PostgreSQL one keeps
 * old row versions from being vacuumed).
 */
export interface StoreSnapshot {
  /** The newest committed sequence as of the snapshot: the state it reads is exactly the state after it. */
  readonly sequence: number;
  /** As Store.ancestry, at the snapshot. */
  ancestry(resource: string): Promise<StoredPolicy[] | undefined>;
  /**
   * The chain links (a resource with its policy, deny policy, roles and bound shared policies) of the subtree of
   * `root` (it included), in cursor order (a parent before its children), after `afterCursor`, at most `limit`;
   * only of `types` when given. None when `root` does not exist. O(log n + limit). A link with a stored policy comes
   * with its stored bytes (`policy`), and its `link.policy` is decoded from them only when read.
   */
  subtree(root: string, afterCursor: string | undefined, limit: number, types?: readonly string[]): Promise<SnapshotLink[]>;
  /**
   * Every record of the store (StoreRecord), a page at a time (at most `limit` records, of one sort): from the start,
   * or after the `next` of the previous page. In an order an import can write them: resources by cursor (a parent
   * before its children), then what refers to them; consumers before their failures.
   */
  exportRecords(after: string | undefined, limit: number): Promise<ExportPage>;
  /** Ends the read transaction and releases its connection (idempotent). */
  close(): Promise<void>;
}

// --- A whole store's copy (migrate-store): every row, in the contract's terms ---
//
// A store's export (StoreSnapshot.exportRecords) and import (Store.importRecords) carry these: a resource names its
// position (`cursor`, which the copy keeps, so listing page tokens stay valid) and what refers to a resource names it.
// The allow policy is the document of kind POLICY_KIND, key "" (its `entries` the binding count), as it is stored.

/** The document kind of an allow policy (its body a canonical Policy, `entries` its binding count, key ""). */
export const POLICY_KIND = "policy";

export interface ExportedResource {
  name: string;
  /** "" for a root. */
  parent: string;
  type: string;
  displayName: string;
  /** Its position in the hierarchy (ListedResource.cursor): kept by the copy. */
  cursor: string;
  /** The change-log sequences of its creation and of its last change (its etag). */
  createSeq: number;
  revision: number;
  createTimeMs: number;
  updateTimeMs: number;
}

/** A document as stored, with its resource's name and its revision (the etag's sequence). */
export interface ExportedDocument {
  resource: string;
  kind: string;
  key: string;
  body: Uint8Array;
  entries: number;
  revision: number;
  updateTimeMs: number;
}

/** A member-index row: `member` holds `role` at `resource`, by its access policy or (`document`) by its document's grants. */
export interface ExportedGrant {
  resource: string;
  member: string;
  role: string;
  document: boolean;
}

export interface ExportedLink {
  kind: string;
  from: string;
  to: string;
  revision: number;
  createTimeMs: number;
}

/** A change-log row as stored: what Watch, the audit log and consumers read, with its state's bytes as they are. */
export interface ExportedChange {
  seq: number;
  timeMs: number;
  principal: string;
  /** As stored: an action this version may not know is kept. */
  action: string;
  resource: string;
  etagBefore: Uint8Array | null;
  etagAfter: Uint8Array | null;
  /** The state the row keeps (a Policy, a Resource, a document's body...); null for none. */
  state: Uint8Array | null;
  resourceType: string | null;
  parent: string | null;
  previousParent: string | null;
  lineage: readonly string[] | null;
  previousLineage: readonly string[] | null;
}

/** A consumer as stored, with the version of its last write (ConsumerChanges). */
export interface ExportedConsumer extends StoredConsumer {
  version: number;
}

/** One row of a store's copy. */
export type StoreRecord =
  | { resource: ExportedResource }
  | { document: ExportedDocument }
  | { grant: ExportedGrant }
  | { link: ExportedLink }
  | { change: ExportedChange }
  | { consumer: ExportedConsumer }
  | { failure: ResourceFailure }
  /** The consumers' clock: the newest consumer version given out, and that of the newest delete. */
  | { consumerClock: { version: number; lastDelete: number } }
  /** A secret of the database (the page-token key). */
  | { secret: { name: string; value: Uint8Array } };

/** A page of a store's export, and where the next starts (undefined: that was the last). */
export interface ExportPage {
  records: StoreRecord[];
  next?: string;
}

export interface Store {
  getResource(name: string): Promise<Resource | undefined>;
  listResources(query: ResourceQuery): Promise<Resource[]>;
  /** The resources whose display name or name contains `text`, examining at most `scan` of them. */
  searchResources(query: ResourceSearch): Promise<ResourceSearchPage>;
  /**
   * Creates resources, each with its optional first policy, in one transaction: per item, in order, its resource row,
   * its `resource.create` change-log row, and with a policy its policy row, member-index rows and `policy.set` row, as
   * updatePolicy would write them. An item's parent may be an earlier item of the batch. An item whose name is taken
   * (already_exists) or whose parent does not exist (not_found, subject: the parent) writes nothing and the others go
   * on; a database failure fails the whole call and writes nothing. Answers one outcome per item, in order. One
   * resource: `createResource(store, ...)` above, which throws its item's error.
   */
  createResources(items: readonly NewResourceWithPolicy[], actor: Actor): Promise<CreatedResource[]>;
  /**
   * In one transaction: reads the resource, calls `decide` once with it and the hierarchy, and applies the changes it
   * returns (a move re-roots the whole subtree). `decide` may read the resource's lineage and children, and the
   * lineage (and each link's children) of the names in `reads`, which a store fetches before calling it; reading
   * anything else may throw. `decide` may throw (a stale etag, a cycle) and then nothing is written. not_found when
   * the resource, or the new parent, does not exist.
   */
  updateResource(
    name: string,
    decide: (current: Resource, hierarchy: HierarchyReader) => ResourceChanges,
    actor: Actor,
    reads?: readonly string[],
  ): Promise<Resource>;
  /**
   * In one transaction: reads the resource, calls `decide` once (it may read the resource's lineage and children, and
   * may throw, as for updateResource) and deletes the
   * resource and its policy — with `cascade`, its whole subtree. Returns the names deleted, deepest first.
   */
  deleteResource(name: string, decide: (current: Resource, hierarchy: HierarchyReader) => { cascade: boolean }, actor: Actor): Promise<string[]>;
  /** The stored policy, or an empty one with a valid etag; undefined when the resource does not exist. */
  getPolicy(resource: string): Promise<StoredPolicy | undefined>;
  /**
   * The resource and its ancestors with their policies (empty ones included), from the resource up to the root;
   * undefined when the resource does not exist. O(depth). Like every read, it reflects every write acknowledged
   * before it, by any process sharing the database.
   */
  ancestry(resource: string): Promise<StoredPolicy[] | undefined>;
  /**
   * With `namesOnly`: the names, cursors and revisions the listing below would return, in its order, without reading
   * or decoding a policy. The read cache lists through it and takes the policies it holds from memory.
   */
  listPolicies(query: PolicyQuery & { namesOnly: true }): Promise<ListedName[]>;
  /** Policies with at least one binding of resources of one type, in a stable order (by hierarchy position). */
  listPolicies(query: PolicyQuery): Promise<readonly (ListedPolicy | UnreadablePolicy)[]>;
  /**
   * Grant points: resources whose policy binds one of `members` to one of `roles` (whatever the binding's
   * condition), in cursor order, at most `limit`. None when `beneath` does not exist. Costs O(members × roles ×
   * (log n + limit)), whatever the number of resources and grants stored.
   */
  listGrantPoints(query: GrantQuery): Promise<GrantPoint[]>;
  /**
   * The member index's other question (BoundRolesQuery): the role names some policy or shared policy binds one of
   * `members` to (whatever the resource or condition), each once, sorted: what a lookup needs to know which custom
   * roles to look for. Costs O(members × distinct roles × log n), however many grants the members hold.
   */
  listGrantPoints(query: BoundRolesQuery): Promise<string[]>;
  /**
   * Resources of one type in a subtree, in cursor order, at most `limit`; none when `root` does not exist. Costs
   * O(log n + limit).
   */
  listSubtree(query: SubtreeQuery): Promise<ListedResource[]>;
  /**
   * Writes the policy of `resource` in one transaction: `decide` is called with the stored policy (an empty one with
   * a valid etag when none is set) and returns the policy to store (its bindings, audit configs and version), or
   * undefined to delete it; it may throw (a stale etag, a rule) and then nothing is written. not_found when the
   * resource does not exist. Returns the stored policy with its new etag. `decide` must be synchronous and pure:
   * concurrent writes are serialised around it, so two writers can never both win.
   */
  updatePolicy(resource: string, decide: (stored: StoredPolicy) => Policy | undefined, actor: Actor): Promise<Policy>;
  /**
   * The documents of `kind` attached to `resource` (only the one of `key`, when given), by key; undefined when the
   * resource does not exist. What a kind's bodies mean is the domain's (domain/kinds.ts).
   */
  listDocuments(kind: string, resource: string, key?: string): Promise<AttachedDocuments | undefined>;
  /** The documents of `kind` held by the children of `query.parent` (those holding none left out), by child name. */
  listDocuments(kind: string, query: ChildDocumentsQuery): Promise<ResourceDocuments[]>;
  /**
   * Writes the document (`kind`, `key`) of `resource` in one transaction that appends the change-log row `decide`
   * names, logged against `resource` (caches that follow the log evict its chain link), and the member-index rows it
   * grants. `decide` gets the stored document (as listDocuments, of this key; undefined only for an owned document
   * whose resource does not exist) and the links `options.linksFrom` counts, and returns what to store and log — for
   * an owned document, possibly the resource's creation or removal (DocumentWriteOptions); it may throw (a stale
   * etag, a rule), and then nothing is written. not_found when the resource does not exist (and is not created), or a
   * new resource's parent does not exist. Returns the stored document; undefined when its resource was removed.
   */
  updateDocument(
    kind: string,
    resource: string,
    key: string,
    decide: (stored: AttachedDocuments | undefined, links: LinkCount) => DocumentWrite | DocumentRemoval,
    actor: Actor,
    options?: DocumentWriteOptions,
  ): Promise<StoredDocument | undefined>;
  /** Links of a kind from a resource or to one; see LinkQuery. */
  listLinks(kind: string, query: LinkQuery): Promise<StoredLink[]>;
  /**
   * Links (`decide` returns true) or unlinks (false) `from` and `to` in one transaction that appends a change-log row
   * against `to` (`{kind}.create` or `.delete`); a no-op returns without a row. `decide` may throw and then nothing is
   * written. not_found when either end does not exist, or `from` holds no document of the kind's `from` kind. Returns
   * the link (as created, or as it was before the delete); undefined when unlinking what was not linked.
   */
  updateLink(kind: LinkKind, from: string, to: string, decide: (state: LinkState) => boolean, actor: Actor): Promise<StoredLink | undefined>;
  /** The highest change-log sequence this store instance has committed (in memory; no I/O). */
  readonly writtenSequence: number;
  /**
   * The highest change-log sequence committed by anyone (other processes sharing the database too): reads made from
   * now on reflect at least every write up to it.
   */
  latestSequence(): Promise<number>;
  /** Resources changed after `afterSeq` (at most `limit`), for caches: see ChangesSince. Cheap when nothing changed. */
  changesSince(afterSeq: number, limit: number): Promise<ChangesSince>;
  /** The change-log rows of one resource, oldest first. */
  listAuditRecords(query: AuditQuery): Promise<AuditRecord[]>;
  /**
   * Change-log rows, oldest first (see ChangeQuery): after a sequence, those still retained at given sequences, or the
   * row that removed a resource (at most one).
   */
  readChanges(query: ChangeQuery): Promise<ChangeRecord[]>;
  /** Removes old change-log rows (they are the audit log too); returns how many. Keeps the newest row always. */
  pruneChanges(retention: Retention): Promise<number>;
  /**
   * Registers, acknowledges for or deletes a consumer in one transaction (see ConsumerWrite). Creating: StoreError
   * already_exists (subject: the name) when the name is taken. Acknowledging or deleting: not_found (subject: the
   * name) when there is none; a delete takes its failures with it. Returns the consumer as written (undefined: deleted).
   */
  writeConsumer(write: ConsumerCreate): Promise<StoredConsumer>;
  writeConsumer(write: ConsumerAcknowledgement): Promise<StoredConsumer>;
  writeConsumer(write: ConsumerDelete): Promise<undefined>;
  /** The consumers written after `afterVersion` (see ConsumerChanges): one indexed read when nothing changed. */
  consumerChanges(afterVersion: number): Promise<ConsumerChanges>;
  /**
   * The unresolved failures of `consumers` for `resource`, by consumer: one primary-key lookup per consumer (there is
   * no index by resource: it would spread each consumer's failures over the whole index, and registering, filling or
   * deleting one consumer would rewrite every page of it).
   */
  listResourceFailures(resource: string, consumers: readonly string[]): Promise<ResourceFailure[]>;
  /**
   * Writes a store's copy (StoreSnapshot.exportRecords' pages, in their order) into this store, which must hold no
   * resource, change or consumer (already_exists otherwise, and nothing is written): every record as it is (etags,
   * sequences, cursors, consumers' progress), the page-token key and the consumers' clock replacing this store's, in
   * one transaction. Nothing else may write meanwhile; close the store afterwards (what it keeps in memory is not
   * refreshed). Returns how many records of each sort were written.
   */
  importRecords(pages: AsyncIterable<readonly StoreRecord[]>): Promise<Record<string, number>>;
  /** Opens a consistent read of the whole store (see StoreSnapshot); close it when done. */
  openSnapshot(): Promise<StoreSnapshot>;
  /** The key that signs page tokens: made once per database, so tokens survive restarts and work on every replica. */
  pageTokenKey(): Promise<Uint8Array>;
  stats(): Promise<StoreStats>;
  close(): Promise<void>;
}
