// A batch creation (Store.createResources) planned once for every store: which items are written, their ids, paths,
// change-log sequences and the rows of each table, from what the store reads of the names the batch touches. Each
// store then inserts the rows in as few statements as it can (sqlite/, postgres/); both write exactly the rows that
// a resource's creation followed by updatePolicy would, item after item.
import { toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { SyncStatus, type Policy } from "../../gen/policy/v1/policy_pb.js";
import { ResourceSchema } from "../../gen/policy/v1/resource_pb.js";
import { changeAction } from "./change-actions.js";
import { resourceExists, resourceNotFound } from "./store-error.js";
import { revisionEtag } from "../etag.js";
import { POLICY_KIND } from "./documents.js";
import { encodePolicy, grantRows, toResource } from "./rows.js";
import type { Actor, CreatedResource, NewResourceWithPolicy } from "./store.js";

/** A resource that exists before the batch, as the batch needs it of a parent. */
export interface ExistingPlace {
  id: number;
  path: string;
  /** Its name and its ancestors' names, from it up to its root. */
  lineage: readonly string[];
}

/** What the plan reads of the store, inside the write transaction. */
export interface BatchReader {
  /** Whether a resource of this name exists before the batch. */
  taken(name: string): boolean;
  /** The existing resource of this name; undefined when there is none. */
  place(name: string): ExistingPlace | undefined;
}

/** The rows to insert, as positional values in each table's column order (see the stores' batch statements). */
export interface BatchRows {
  /** id, name, parent_id, path, type, display_name, create_seq, revision, create_time, update_time, has_bindings */
  resources: unknown[][];
  /** The access policies' documents: resource_id, kind, key, body, entries (the binding count), revision, update_time */
  documents: unknown[][];
  /** member, role, path, resource_id */
  grants: unknown[][];
  /** The change log's 13 columns (LOG_COLUMNS), bytes as Uint8Array, lineages as JSON. */
  changes: unknown[][];
}

export interface BatchPlan extends BatchRows {
  outcomes: CreatedResource[];
  /** The last change-log sequence the batch uses (the first minus 1 when it writes nothing). */
  lastSeq: number;
}

/**
 * Plans the batch: `firstId` and `firstSeq` are the next resource id and change-log sequence, all rows share `time`.
 * An item's parent is an earlier written item of the batch or an existing resource.
 */
export function planCreation(
  items: readonly NewResourceWithPolicy[],
  actor: Actor,
  reader: BatchReader,
  next: { id: number; seq: number; time: number },
): BatchPlan {
  const { time } = next;
  let { id, seq } = next;
  // Stryker disable next-line ArithmeticOperator: equivalent — lastSeq's initial value is always overwritten below
  const plan: BatchPlan = { outcomes: [], resources: [], documents: [], grants: [], changes: [], lastSeq: seq - 1 };
  const written = new Map<string, ExistingPlace>();
  const lineageJson = new Map<ExistingPlace, string>();
  const jsonOf = (place: ExistingPlace) => {
    let json = lineageJson.get(place);
    if (json === undefined) lineageJson.set(place, (json = JSON.stringify(place.lineage)));
    return json;
  };
  for (const { resource: item, policy } of items) {
    if (written.has(item.name) || reader.taken(item.name)) {
      plan.outcomes.push({ error: resourceExists(item.name) });
      continue;
    }
    // Stryker disable next-line StringLiteral: equivalent — for a root, a parent looked up by another name than "" is none
    const parent = item.parent === "" ? undefined : (written.get(item.parent) ?? reader.place(item.parent));
    if (item.parent !== "" && !parent) {
      plan.outcomes.push({ error: resourceNotFound(item.parent) });
      continue;
    }
    // Stryker disable next-line StringLiteral: equivalent — the path is set on the next line
    const place: ExistingPlace = { id: id++, path: "", lineage: [item.name, ...(parent?.lineage ?? [])] };
    place.path = `${parent?.path ?? "/"}${place.id}/`;
    written.set(item.name, place);
    // The lineage as the change log stores it (JSON), from the parent's: one stringify per parent, not per item.
    const json = parent ? `["${jsonString(item.name)}",${jsonOf(parent).slice(1)}` : JSON.stringify(place.lineage);
    lineageJson.set(place, json);

    const createSeq = seq++;
    const row = {
      id: place.id,
      name: item.name,
      path: place.path,
      parent: parent ? item.parent : null,
      type: item.type,
      display_name: item.displayName,
      create_seq: createSeq,
      revision: createSeq,
      create_time: time,
      update_time: time,
    };
    const resource = toResource(row);
    const log = (s: number, action: string, before: Uint8Array | null, change: Uint8Array) =>
      plan.changes.push([s, time, actor.principal, action, item.name, before, revisionEtag(s), change, item.type, item.parent, null, json, null]);
    log(createSeq, changeAction("resource", "create"), null, toBinary(ResourceSchema, resource));
    if (!policy) {
      // Stryker disable next-line BooleanLiteral: equivalent — a resource without a policy is never listed by type (the listing joins its policy row), and its first policy write sets has_bindings
      plan.resources.push([place.id, item.name, parent?.id ?? null, place.path, item.type, item.displayName, createSeq, createSeq, time, time, false]);
      plan.outcomes.push({ resource });
      continue;
    }
    const policySeq = seq++;
    const { bytes, bindingCount } = encodePolicy(policy);
    plan.resources.push([place.id, item.name, parent?.id ?? null, place.path, item.type, item.displayName, createSeq, createSeq, time, time, bindingCount > 0]);
    plan.documents.push([place.id, POLICY_KIND, "", bytes, bindingCount, policySeq, time]);
    for (const grant of grantRows(policy.bindings)) plan.grants.push([grant.member, grant.role, place.path, place.id]);
    log(policySeq, changeAction("policy", "set"), revisionEtag(createSeq), bytes);
    plan.outcomes.push({ resource, policy: writtenPolicy(policy, policySeq, time) });
  }
  plan.lastSeq = seq - 1;
  return plan;
}

/** The policy as a read would return it after the write: its etag and update time set (decodePolicy, without decoding). */
function writtenPolicy(policy: Policy, revision: number, time: number): Policy {
  return { ...policy, etag: revisionEtag(revision), updateTime: timestampFromMs(time), syncStatus: SyncStatus.SUCCESS };
}

/** `name` as the inside of a JSON string (names are ASCII path segments, but quote whatever needs it). */
function jsonString(name: string): string {
  return JSON.stringify(name).slice(1, -1);
}
