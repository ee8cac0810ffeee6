// Rows as every SQL store reads them (the same columns in SQLite and PostgreSQL), and how they become messages.
import { create, fromBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { PolicySchema, SyncStatus, type Policy } from "../../gen/policy/v1/policy_pb.js";
import { ResourceSchema, type Resource } from "../../gen/policy/v1/resource_pb.js";
import { resourceEtag, revisionEtag } from "./etag.js";
import type { StoredPolicy } from "./store.js";

/** The columns of a ResourceRow (r: the resource, p: its parent) and of a ResourcePolicyRow's policy (pol). */
export const RESOURCE_COLUMNS = `r.id, r.name, r.path, p.name AS parent, r.type, r.display_name, r.create_seq, r.revision,
  r.create_time, r.update_time`;
export const FROM_RESOURCES = `FROM resources r LEFT JOIN resources p ON p.id = r.parent_id`;
export const POLICY_COLUMNS = `pol.policy, pol.revision AS policy_revision, pol.update_time AS policy_update_time`;

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

export interface PolicyRow {
  policy: Uint8Array;
  revision: number;
  update_time: number;
}

/** A resource row with its policy's columns (null without a policy). */
export interface ResourcePolicyRow extends ResourceRow {
  policy: Uint8Array | null;
  policy_revision: number | null;
  policy_update_time: number | null;
}

/** The first path after every path that starts with `path` ('/' + 1 is '0'). */
export function pathEnd(path: string): string {
  return `${path.slice(0, -1)}0`;
}

export function toStoredPolicy(row: ResourcePolicyRow): StoredPolicy {
  const resource = toResource(row);
  if (row.policy === null) return { resource, policy: emptyPolicy(row.create_seq) };
  return { resource, policy: decodePolicy(row.policy, row.policy_revision!, row.policy_update_time!) };
}

export function emptyPolicy(createSeq: number): Policy {
  return create(PolicySchema, { version: 1, etag: revisionEtag(createSeq), syncStatus: SyncStatus.SUCCESS });
}

export function decodePolicy(bytes: Uint8Array, revision: number, updateTime: number): Policy {
  const policy = fromBinary(PolicySchema, bytes);
  policy.etag = revisionEtag(revision);
  policy.updateTime = timestampFromMs(updateTime);
  // No downstream consumer exists yet, so every revision is delivered as soon as it is written.
  policy.syncStatus = SyncStatus.SUCCESS;
  return policy;
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
