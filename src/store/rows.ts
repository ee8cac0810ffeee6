// Rows as every SQL store reads them (the same columns in SQLite and PostgreSQL), and how they become messages. Lists
// of names (a change's lineage, a consumer's types) are JSON text in both databases, so one mapping serves both.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { DenyPolicySchema, type DenyPolicy } from "../../gen/policy/v1/deny_policy_pb.js";
import { PolicySchema, SyncStatus, type Policy } from "../../gen/policy/v1/policy_pb.js";
import { ResourceSchema, type Resource } from "../../gen/policy/v1/resource_pb.js";
import { RoleSchema, type Role } from "../../gen/policy/v1/role_pb.js";
import {
  SharedPolicyBindingSchema,
  SharedPolicySchema,
  type SharedPolicy,
  type SharedPolicyBinding,
} from "../../gen/policy/v1/shared_policy_pb.js";
import { DOCUMENT_SQL } from "./documents.js";
import { changeAction, isChangeAction, subjectOf } from "./change-actions.js";
import { resourceEtag, revisionEtag } from "../etag.js";
import {
  REMOVALS,
  type Acknowledgement,
  type AuditRecord,
  type ChangeAction,
  type ChangeRecord,
  type ListedPolicy,
  type ResourceFailure,
  type StoredConsumer,
  type EncodedPolicy,
  type StoredLink,
  type StoredPolicy,
  type UnreadablePolicy,
} from "./store.js";

/** The columns of a ResourceRow (r: the resource, p: its parent) and of a ResourcePolicyRow's policy (pol). */
export const RESOURCE_COLUMNS = `r.id, r.name, r.path, p.name AS parent, r.type, r.display_name, r.create_seq, r.revision,
  r.create_time, r.update_time`;
export const FROM_RESOURCES = `FROM resources r LEFT JOIN resources p ON p.id = r.parent_id`;
export const POLICY_COLUMNS = DOCUMENT_SQL.policyColumns;
/** `documents pol` joined as the resource's access policy (prefix with LEFT JOIN or JOIN). */
export const POLICY_DOCUMENT = DOCUMENT_SQL.joinPolicy;
/** A deny policy's columns, joined only while it has rules (chains carry deny rules, not empty deny policies). */
export const DENY_COLUMNS = DOCUMENT_SQL.denyColumns;
export const JOIN_DENY = DOCUMENT_SQL.joinDeny;
/** The columns of a ChangeRow. */
export const CHANGE_COLUMNS = `seq, time, principal, action, resource, etag_after, change, resource_type, parent,
  previous_parent, lineage, previous_lineage`;

export interface ResourceRow {
  id: number;
  name: string;
  path: string;
  parent: string | null;
  type: string;
  display_name: string;
  create_seq: number;
  revision: number;
  create_time: number;
  update_time: number;
}

/** A policy's or a deny policy's row. */
export interface PolicyRow {
  policy: Uint8Array;
  revision: number;
  update_time: number;
}

/** A resource row with its policy's columns (null without a policy) and, in chains, its deny policy's. */
export interface ResourcePolicyRow extends ResourceRow {
  policy: Uint8Array | null;
  policy_revision: number | null;
  policy_update_time: number | null;
  deny?: Uint8Array | null;
  deny_revision?: number | null;
  deny_update_time?: number | null;
}

export interface RoleRow {
  role: Uint8Array;
  revision: number;
  update_time: number;
}

export interface ChangeRow {
  seq: number;
  time: number;
  principal: string;
  action: string;
  resource: string;
  etag_after: Uint8Array | null;
  change: Uint8Array | null;
  resource_type: string;
  parent: string;
  previous_parent: string | null;
  /** JSON array of names. */
  lineage: string;
  previous_lineage: string | null;
}

/** A shared policy's content with its resource's columns. */
export interface SharedPolicyRow {
  name: string;
  parent: string;
  create_time: number;
  policy: Uint8Array;
  revision: number;
  update_time: number;
}

export interface BindingRow {
  shared_policy: string;
  target: string;
  create_seq: number;
  create_time: number;
}

export const SHARED_COLUMNS = `s.name, COALESCE(sp_parent.name, '') AS parent, s.create_time, sp.body AS policy, sp.revision,
  sp.update_time`;
/** The links' kind of shared-policy bindings (links.kind): from the shared policy's resource to its target. */
export const BINDING_LINK = "sharedPolicyBinding";

/** The columns of an AuditRow. */
export const AUDIT_COLUMNS = `seq, time, principal, action, resource, etag_before, etag_after,
  CASE WHEN action = '${changeAction("policy", "set")}' THEN change END AS change`;

export interface AuditRow {
  seq: number;
  time: number;
  principal: string;
  action: string;
  resource: string;
  etag_before: Uint8Array | null;
  etag_after: Uint8Array | null;
  /** The policy written, for `policy.set` only. */
  change: Uint8Array | null;
}

export interface ConsumerRow {
  name: string;
  display_name: string;
  subtree: string;
  /** JSON array of type names. */
  resource_types: string;
  acknowledged_seq: number;
  acknowledge_time: number | null;
  create_time: number;
  root: string;
  failure_count: number;
  /** The consumer clock's value at its last write (see Store.consumerChanges). */
  version: number;
}

export interface FailureRow {
  consumer: string;
  resource: string;
  seq: number;
  message: string;
  time: number;
}

/** Where a change happened in the hierarchy, recorded with it for Watch filters and authorization. */
export interface ChangePlace {
  resourceType: string;
  parent: string;
  lineage: readonly string[];
  previousParent?: string;
  previousLineage?: readonly string[];
}

/** A ChangePlace as change-log columns (resource_type, parent, previous_parent, lineage, previous_lineage). */
export function placeColumns(place: ChangePlace) {
  return {
    resourceType: place.resourceType,
    parent: place.parent,
    previousParent: place.previousParent ?? null,
    lineage: JSON.stringify(place.lineage),
    previousLineage: place.previousLineage ? JSON.stringify(place.previousLineage) : null,
  };
}

/**
 * Where each resource of a deleted subtree was (`doomed`: its rows, deepest first; `lineage`: the deleted resource's,
 * read before the delete), in the order of `doomed`: each lineage from its parent's, with no query per row.
 */
export function deletedPlaces(doomed: readonly ResourceRow[], lineage: readonly string[]): ChangePlace[] {
  const lineages = new Map<string, readonly string[]>();
  for (const row of [...doomed].reverse()) {
    lineages.set(row.name, lineages.size === 0 ? lineage : [row.name, ...lineages.get(row.parent!)!]);
  }
  return doomed.map((row) => ({ resourceType: row.type, parent: row.parent ?? "", lineage: lineages.get(row.name)! }));
}

/** The first path after every path that starts with `path` ('/' + 1 is '0'). */
export function pathEnd(path: string): string {
  return `${path.slice(0, -1)}0`;
}

/** The row's chain link; `lazyPolicy`: its policy decoded only when read (withLazyPolicy). */
export function toStoredPolicy(row: ResourcePolicyRow, lazyPolicy = false): StoredPolicy {
  const resource = toResource(row);
  const createSeq = row.create_seq;
  const lazy = lazyPolicy && row.policy !== null;
  const policy =
    row.policy === null ? emptyPolicy(row.create_seq) : lazy ? undefined! : decodePolicy(row.policy, row.policy_revision!, row.policy_update_time!);
  let link: StoredPolicy = { resource, createSeq, policy };
  if (row.deny != null) {
    const deny = decodeDeny(row.deny, row.deny_revision!, row.deny_update_time!);
    deny.resource = row.name;
    link.deny = deny;
  }
  if (lazy) link = withLazyPolicy(link, encodedPolicyOf(row));
  return link;
}

/** The row's stored policy bytes and their columns; undefined when the resource has no policy row. */
export function encodedPolicyOf(row: ResourcePolicyRow): EncodedPolicy | undefined {
  return row.policy === null ? undefined : { bytes: row.policy, revision: row.policy_revision!, updateTime: row.policy_update_time! };
}

/**
 * `link` (a fresh object) with its policy decoded from `encoded` when first read rather than now: a Snapshot for an
 * unrestricted caller sends the stored bytes as they are and never reads it.
 */
function withLazyPolicy(link: StoredPolicy, encoded: EncodedPolicy | undefined): StoredPolicy {
  if (!encoded) return link;
  let policy: Policy | undefined;
  return Object.defineProperty(link, "policy", {
    enumerable: true,
    get: () => (policy ??= decodePolicy(encoded.bytes, encoded.revision, encoded.updateTime)),
  });
}

/** A listing's row with its position: decoded, or marked unreadable when its stored bytes do not decode. */
export function listedRow(row: ResourcePolicyRow, cursor: string): ListedPolicy | UnreadablePolicy {
  try {
    return { ...toStoredPolicy(row), cursor };
  } catch (e) {
    return { resource: toResource(row), cursor, unreadable: e instanceof Error ? e.message : String(e) };
  }
}

export function emptyPolicy(createSeq: number): Policy {
  return create(PolicySchema, { version: 1, etag: revisionEtag(createSeq), syncStatus: SyncStatus.SUCCESS });
}

export function decodePolicy(bytes: Uint8Array, revision: number, updateTime: number): Policy {
  const policy = fromBinary(PolicySchema, bytes);
  policy.etag = revisionEtag(revision);
  policy.updateTime = timestampFromMs(updateTime);
  // The status with nothing to deliver; the domain overlays the computed one (domain/sync-status.ts).
  policy.syncStatus = SyncStatus.SUCCESS;
  return policy;
}

/** What a policy row stores: the policy without its etag (a column), an empty one for a delete. */
export function encodePolicy(policy: Policy | undefined): { bytes: Uint8Array; bindingCount: number } {
  const stored = policy ?? create(PolicySchema, {});
  return { bytes: toBinary(PolicySchema, { ...stored, etag: new Uint8Array(0) }), bindingCount: stored.bindings.length };
}

/** The deny policy of the resource `name` as stored, or an empty one with the etag of its creation when none is. */
export function toDenyPolicy(name: string, createSeq: number, stored: PolicyRow | undefined): DenyPolicy {
  const deny = stored
    ? decodeDeny(stored.policy, stored.revision, stored.update_time)
    : create(DenyPolicySchema, { etag: revisionEtag(createSeq) });
  deny.resource = name;
  return deny;
}

export function decodeDeny(bytes: Uint8Array, revision: number, updateTime: number): DenyPolicy {
  const deny = fromBinary(DenyPolicySchema, bytes);
  deny.etag = revisionEtag(revision);
  deny.updateTime = timestampFromMs(updateTime);
  return deny;
}

/** What a deny policy row stores: the rules only (the resource, etag and time are columns). */
export function encodeDeny(deny: DenyPolicy | undefined): { bytes: Uint8Array; ruleCount: number } {
  const rules = deny?.rules ?? [];
  return { bytes: toBinary(DenyPolicySchema, create(DenyPolicySchema, { rules })), ruleCount: rules.length };
}

/**
 * What the change-log row of a removal keeps (ChangeRecord.denyRulesAtRemoval): the deny rules that applied to the
 * resource `name` from its own link — its deny policy's (`deny`: the stored row's bytes), then those of the shared
 * policies bound to it (`shared`: their stored content) — as a deny policy of `name`.
 */
export function removalBytes(name: string, deny: Uint8Array | null | undefined, shared: readonly Uint8Array[]): Uint8Array {
  const rules = [
    ...(deny ? fromBinary(DenyPolicySchema, deny).rules : []),
    ...shared.flatMap((content) => fromBinary(SharedPolicySchema, content).denyRules),
  ];
  return toBinary(DenyPolicySchema, create(DenyPolicySchema, { resource: name, rules }));
}

/** The member_grants rows of one policy: each (member, role) pair once, whatever the conditions. */
export function grantRows(bindings: readonly { role: string; members: readonly string[] }[]): { member: string; role: string }[] {
  const seen = new Set<string>();
  const rows: { member: string; role: string }[] = [];
  for (const { role, members } of bindings) {
    for (const member of members) {
      const key = `${member}\u0000${role}`;
      if (seen.has(key)) continue;
      seen.add(key);
      rows.push({ member, role });
    }
  }
  return rows;
}

/**
 * The member-index rows a policy write changes: those of `after` that `before` lacks, and those of `before` that
 * `after` drops. A rewrite with the same members changes none; adding one member to a large policy, one.
 */
export function grantChanges(
  before: readonly { role: string; members: readonly string[] }[],
  after: readonly { role: string; members: readonly string[] }[],
): { added: { member: string; role: string }[]; removed: { member: string; role: string }[] } {
  return grantDiff(grantRows(before), grantRows(after));
}

/** The member-index rows to insert and to delete to go from `before`'s rows to `after`'s (each row once in both). */
export function grantDiff(
  before: readonly { member: string; role: string }[],
  after: readonly { member: string; role: string }[],
): { added: { member: string; role: string }[]; removed: { member: string; role: string }[] } {
  const key = (g: { member: string; role: string }) => `${g.member}\u0000${g.role}`;
  const old = new Map(before.map((g) => [key(g), g]));
  const added: { member: string; role: string }[] = [];
  for (const grant of after) {
    if (!old.delete(key(grant))) added.push(grant);
  }
  return { added, removed: [...old.values()] };
}

export function decodeSharedPolicy(row: SharedPolicyRow): SharedPolicy {
  const policy = fromBinary(SharedPolicySchema, row.policy);
  policy.name = row.name;
  policy.parent = row.parent;
  policy.etag = revisionEtag(row.revision);
  policy.createTime = timestampFromMs(row.create_time);
  policy.updateTime = timestampFromMs(row.update_time);
  return policy;
}

export function toLink(row: BindingRow): StoredLink {
  return { from: row.shared_policy, to: row.target, sequence: row.create_seq, createTimeMs: row.create_time };
}

/** A link's change-log bytes: a shared-policy binding's (the log's format, which Watch and the audit log read). */
export function toBinding(row: BindingRow): SharedPolicyBinding {
  return create(SharedPolicyBindingSchema, {
    sharedPolicy: row.shared_policy,
    target: row.target,
    createTime: timestampFromMs(row.create_time),
    sequence: BigInt(row.create_seq),
  });
}

export function decodeRole(row: RoleRow): Role {
  const role = fromBinary(RoleSchema, row.role);
  role.etag = revisionEtag(row.revision);
  role.updateTime = timestampFromMs(row.update_time);
  return role;
}

/** What a custom role row stores: the role without its etag and update time (they are columns). */
export function encodeRole(role: Role): Uint8Array {
  return toBinary(RoleSchema, { ...role, etag: new Uint8Array(0), updateTime: undefined });
}

/** The change-log action of a role write, by whether the role existed and its `deleted` flag. */
export function roleAction(current: Role | undefined, next: Role): ChangeAction {
  if (!current) return changeAction("role", "create");
  if (next.deleted === current.deleted) return changeAction("role", "update");
  return next.deleted ? changeAction("role", "delete") : changeAction("role", "undelete");
}

export function toResource(row: ResourceRow): Resource {
  return create(ResourceSchema, {
    name: row.name,
    parent: row.parent ?? "",
    type: row.type,
    displayName: row.display_name,
    etag: resourceEtag(row.revision),
    createTime: timestampFromMs(row.create_time),
    updateTime: timestampFromMs(row.update_time),
  });
}

export function toAuditRecord(row: AuditRow): AuditRecord {
  return {
    seq: row.seq,
    timeMs: row.time,
    principal: row.principal,
    action: row.action,
    resource: row.resource,
    // Plain copies: both drivers return Buffers, views of pooled memory.
    etagBefore: row.etag_before ? new Uint8Array(row.etag_before) : undefined,
    etagAfter: row.etag_after ? new Uint8Array(row.etag_after) : undefined,
    ...(row.change ? { policy: writtenPolicy(row.change, row.etag_after, row.time) } : {}),
  };
}

/** A `policy.set` row's policy, with the etag and update time of the write. */
function writtenPolicy(change: Uint8Array, etag: Uint8Array | null, timeMs: number): Policy {
  const policy = fromBinary(PolicySchema, change);
  policy.etag = etag ? new Uint8Array(etag) : new Uint8Array(0);
  policy.updateTime = timestampFromMs(timeMs);
  return policy;
}

export function toChangeRecord(row: ChangeRow): ChangeRecord {
  const record: ChangeRecord = {
    seq: row.seq,
    timeMs: row.time,
    principal: row.principal,
    // A newer version's action stays as it is: readers treat it as unknown (isChangeAction).
    action: row.action as ChangeAction,
    resource: row.resource,
    resourceType: row.resource_type,
    parent: row.parent,
    lineage: JSON.parse(row.lineage) as string[],
  };
  if (row.previous_parent !== null) record.previousParent = row.previous_parent;
  if (row.previous_lineage !== null) record.previousLineage = JSON.parse(row.previous_lineage) as string[];
  if (row.change) addChangeState(record, row, row.change);
  return record;
}

/** What a change-log row's `change` bytes hold, by its action: the state written, or a removal's deny rules. */
function addChangeState(record: ChangeRecord, row: ChangeRow, change: Uint8Array): void {
  const action = record.action;
  const subject = isChangeAction(action) ? subjectOf(action) : undefined;
  if (action === changeAction("policy", "set")) {
    record.policy = writtenPolicy(change, row.etag_after, row.time);
  } else if (action === changeAction("denyPolicy", "set")) {
    const deny = fromBinary(DenyPolicySchema, change);
    deny.resource = row.resource;
    deny.etag = row.etag_after ?? new Uint8Array(0);
    deny.updateTime = timestampFromMs(row.time);
    record.denyPolicy = deny;
  } else if (action === changeAction("sharedPolicy", "create") || action === changeAction("sharedPolicy", "update")) {
    const shared = fromBinary(SharedPolicySchema, change);
    shared.name = row.resource;
    shared.parent = row.parent;
    shared.etag = row.etag_after ?? new Uint8Array(0);
    shared.updateTime = timestampFromMs(row.time);
    record.sharedPolicy = shared;
  } else if (subject === "sharedPolicyBinding") {
    record.sharedPolicyBinding = fromBinary(SharedPolicyBindingSchema, change);
  } else if (REMOVALS.includes(action)) {
    record.denyRulesAtRemoval = fromBinary(DenyPolicySchema, change).rules;
  } else if (subject === "role") {
    const role = fromBinary(RoleSchema, change);
    role.etag = row.etag_after ?? new Uint8Array(0);
    role.updateTime = timestampFromMs(row.time);
    record.role = role;
  }
}

export function toConsumer(row: ConsumerRow): StoredConsumer {
  return {
    name: row.name,
    displayName: row.display_name,
    subtree: row.subtree,
    resourceTypes: JSON.parse(row.resource_types) as string[],
    root: row.root,
    acknowledgedSeq: row.acknowledged_seq,
    ...(row.acknowledge_time === null ? {} : { acknowledgeTimeMs: row.acknowledge_time }),
    createTimeMs: row.create_time,
    failureCount: row.failure_count,
  };
}

export function toResourceFailure(row: FailureRow): ResourceFailure {
  return { consumer: row.consumer, resource: row.resource, seq: row.seq, message: row.message, timeMs: row.time };
}

/**
 * How many failures a consumer keeps after an acknowledgement, from those it has (`stored`): the reported ones are
 * upserted, then the resolved ones removed (a resource in both ends resolved).
 */
export function failuresAfter(stored: readonly string[], ack: Acknowledgement): number {
  const kept = new Set(stored);
  for (const failure of ack.failures) kept.add(failure.resource);
  for (const resource of ack.resolved) kept.delete(resource);
  return kept.size;
}
