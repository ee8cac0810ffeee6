// A Snapshot page encoded without decoding the stored policies: decoding a policy only to encode it again was most
// of a snapshot's protobuf work and garbage. A stored policy's bytes are its fields but the ones the columns hold, so
// the policy as GetPolicy presents it (version 3 requested) is those bytes, less any stale copies of those fields,
// followed by the version, etag, sync status and update time. Fields may come in any order on the wire (a parser
// merges them), which is what lets the pieces be put one after the other: the same mechanism as a batched Watch's
// bytes (change-batch.ts). The page's resources travel as the response's unknown fields of their own field number:
// protobuf-es writes unknown fields as they are, and every reader parses them as the resources they are.
import { create, toBinary, type UnknownField } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { SyncStatus } from "../../gen/policy/v1/policy_pb.js";
import type { SharedPolicy } from "../../gen/policy/v1/shared_policy_pb.js";
import {
  SnapshotResourceSchema,
  SnapshotResponseSchema,
  type SnapshotResource,
  type SnapshotResponse,
} from "../../gen/policy/v1/snapshot_service_pb.js";
import { revisionEtag } from "../store/etag.js";
import type { EncodedPolicy } from "../store/store.js";

// Field numbers (policy.proto, snapshot_service.proto).
const POLICY_VERSION = 1;
const POLICY_ETAG = 3;
const POLICY_BINDINGS = 4;
const POLICY_SYNC_STATUS = 100;
const POLICY_UPDATE_TIME = 101;
const BINDING_CONDITION = 3;
const SNAPSHOT_RESOURCE_POLICY = 2;
const SNAPSHOT_RESPONSE_RESOURCES = 2;
/** The fields the columns hold: a stored copy of one is left out (the column's value is the one sent). */
const FROM_COLUMNS = new Set([POLICY_VERSION, POLICY_ETAG, POLICY_SYNC_STATUS, POLICY_UPDATE_TIME]);

/**
 * The encoding of `policyForVersion(decodePolicy(stored…), 3)`: the stored fields as they are, then version (3 when
 * a binding has a condition, 1 otherwise), etag, sync status SUCCESS and update time.
 */
export function presentedPolicyBytes(stored: EncodedPolicy): Uint8Array {
  return writePresentedPolicy(new BinaryWriter(), stored).finish();
}

function writePresentedPolicy(writer: BinaryWriter, stored: EncodedPolicy): BinaryWriter {
  const { bytes } = stored;
  const reader = new BinaryReader(bytes);
  let conditional = false;
  let copied = 0;
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const [no, wireType] = reader.tag();
    if (no === POLICY_BINDINGS && wireType === WireType.LengthDelimited) {
      const binding = reader.bytes();
      conditional = conditional || hasCondition(binding);
    } else {
      reader.skip(wireType, no);
    }
    if (FROM_COLUMNS.has(no)) {
      if (start > copied) writer.raw(bytes.subarray(copied, start));
      copied = reader.pos;
    }
  }
  if (bytes.length > copied) writer.raw(bytes.subarray(copied));
  const time = timestampFromMs(stored.updateTime);
  writer.tag(POLICY_VERSION, WireType.Varint).int32(conditional ? 3 : 1);
  writer.tag(POLICY_ETAG, WireType.LengthDelimited).bytes(revisionEtag(stored.revision));
  writer.tag(POLICY_SYNC_STATUS, WireType.Varint).int32(SyncStatus.SUCCESS);
  writer.tag(POLICY_UPDATE_TIME, WireType.LengthDelimited).fork();
  if (time.seconds !== 0n) writer.tag(1, WireType.Varint).int64(time.seconds);
  if (time.nanos !== 0) writer.tag(2, WireType.Varint).int32(time.nanos);
  return writer.join();
}

/** Whether an encoded Binding has a condition (hasCondition, on the wire). */
function hasCondition(binding: Uint8Array): boolean {
  const reader = new BinaryReader(binding);
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    if (no === BINDING_CONDITION) return true;
    reader.skip(wireType, no);
  }
  return false;
}

/** The resources of one page, collected either as messages or as their encodings (see the file's comment). */
export class SnapshotPage {
  private resources: SnapshotResource[] = [];
  private encoded: UnknownField[] = [];
  private sharedPolicies: SharedPolicy[] = [];

  /** `encoded`: the page's resources are sent as bytes (a binary codec), not as messages (JSON). */
  constructor(private readonly encodedResources: boolean) {}

  get size(): number {
    return this.resources.length + this.encoded.length;
  }

  /** Adds `resource` (its policy unset when `stored` is given: the stored bytes are sent instead). */
  add(resource: SnapshotResource, stored: EncodedPolicy | undefined, shared: readonly SharedPolicy[]): void {
    this.sharedPolicies.push(...shared);
    if (!this.encodedResources) {
      this.resources.push(resource);
      return;
    }
    // An unknown length-delimited field's data is its length and its bytes (what BinaryReader.skip returns): fork
    // and join write the length.
    const writer = new BinaryWriter().fork().raw(toBinary(SnapshotResourceSchema, resource));
    if (stored) writePresentedPolicy(writer.tag(SNAPSHOT_RESOURCE_POLICY, WireType.LengthDelimited).fork(), stored).join();
    const data = writer.join().finish();
    this.encoded.push({ no: SNAPSHOT_RESPONSE_RESOURCES, wireType: WireType.LengthDelimited, data });
  }

  /** The page's message, and a fresh page. */
  take(sequence: bigint, last: boolean): SnapshotResponse {
    const response = create(SnapshotResponseSchema, { sequence, resources: this.resources, sharedPolicies: this.sharedPolicies, last });
    if (this.encoded.length > 0) response.$unknown = this.encoded;
    this.resources = [];
    this.encoded = [];
    this.sharedPolicies = [];
    return response;
  }
}
