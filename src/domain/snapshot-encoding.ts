// A Snapshot page encoded without decoding the stored policies: decoding a policy only to encode it again was most
// of a snapshot's protobuf work and garbage. A stored policy's bytes are its fields but the ones the columns hold, so
// the policy as GetPolicy presents it (version 3 requested) is those bytes, less any stale copies of those fields,
// followed by the version, etag, sync status and update time. Fields may come in any order on the wire (a parser
// merges them), which is what lets the pieces be put one after the other: the same mechanism as a batched Watch's
// bytes (change-batch.ts). The page's resources travel as the response's unknown fields of their own field number:
// protobuf-es writes unknown fields as they are, and every reader parses them as the resources they are. The page is
// written into one buffer by hand (a resource is a handful of strings and two timestamps): protobuf-es's reflective
// encoder and its writer's allocations per resource were the rest of the cost.
import { create, toBinary, type UnknownField } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { WireType } from "@bufbuild/protobuf/wire";
import { PolicySchema, SyncStatus } from "../../gen/policy/v1/policy_pb.js";
import type { Resource } from "../../gen/policy/v1/resource_pb.js";
import type { SharedPolicy } from "../../gen/policy/v1/shared_policy_pb.js";
import {
  SnapshotResourceSchema,
  SnapshotResponseSchema,
  type SnapshotResource,
  type SnapshotResponse,
} from "../../gen/policy/v1/snapshot_service_pb.js";
import { revisionEtag } from "../etag.js";
import type { EncodedPolicy } from "../store/store.js";

// Field numbers (resource.proto, policy.proto, snapshot_service.proto).
const RESOURCE_NAME = 1;
const RESOURCE_PARENT = 2;
const RESOURCE_TYPE = 3;
const RESOURCE_DISPLAY_NAME = 4;
const RESOURCE_ETAG = 5;
const RESOURCE_CREATE_TIME = 6;
const RESOURCE_UPDATE_TIME = 7;
const POLICY_VERSION = 1;
const POLICY_ETAG = 3;
const POLICY_BINDINGS = 4;
const POLICY_SYNC_STATUS = 100;
const POLICY_UPDATE_TIME = 101;
const BINDING_CONDITION = 3;
const SNAPSHOT_RESOURCE_RESOURCE = 1;
const SNAPSHOT_RESOURCE_POLICY = 2;
const SNAPSHOT_RESPONSE_RESOURCES = 2;
/** The fields the columns hold: a stored copy of one is left out (the column's value is the one sent). */
const FROM_COLUMNS = new Set([POLICY_VERSION, POLICY_ETAG, POLICY_SYNC_STATUS, POLICY_UPDATE_TIME]);
const ETAG_BYTES = revisionEtag(0).length;

/** A growable buffer that protobuf wire values are written into. */
class WireBuffer {
  bytes = new Uint8Array(64 * 1024);
  pos = 0;

  /** Room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.pos + n));
    grown.set(this.bytes.subarray(0, this.pos));
    this.bytes = grown;
  }

  /** A non-negative integer below 2^53. */
  varint(value: number): void {
    this.ensure(8);
    let v = value;
    while (v > 0x7f) {
      this.bytes[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.bytes[this.pos++] = v;
  }

  tag(no: number, wireType: WireType): void {
    this.varint(no * 8 + wireType);
  }

  raw(chunk: Uint8Array): void {
    this.ensure(chunk.length);
    this.bytes.set(chunk, this.pos);
    this.pos += chunk.length;
  }

  /** A string field, left out when empty (proto3's default). */
  string(no: number, value: string): void {
    if (value === "") return;
    const length = Buffer.byteLength(value);
    this.tag(no, WireType.LengthDelimited);
    this.varint(length);
    this.ensure(length);
    utf8.encodeInto(value, this.bytes.subarray(this.pos, this.pos + length));
    this.pos += length;
  }

  timestamp(no: number, seconds: number, nanos: number): void {
    this.tag(no, WireType.LengthDelimited);
    this.varint(timestampSize(seconds, nanos));
    if (seconds !== 0) this.tag(1, WireType.Varint), this.varint(seconds);
    if (nanos !== 0) this.tag(2, WireType.Varint), this.varint(nanos);
  }
}

const utf8 = new TextEncoder();

function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v > 0x7f; v = Math.floor(v / 0x80)) size++;
  return size;
}

function stringSize(no: number, value: string): number {
  if (value === "") return 0;
  const length = Buffer.byteLength(value);
  return varintSize(no * 8) + varintSize(length) + length;
}

function timestampSize(seconds: number, nanos: number): number {
  return (seconds !== 0 ? 1 + varintSize(seconds) : 0) + (nanos !== 0 ? 1 + varintSize(nanos) : 0);
}

/** A Timestamp as numbers: seconds below 2^53 (any time a store holds), never negative (after 1970). */
function timeOf(time: Timestamp | undefined): [number, number] {
  return time ? [Number(time.seconds), time.nanos] : [0, 0];
}

/** Writes `resource` as a field `no` (Resource's fields: strings and two timestamps). */
function writeResource(out: WireBuffer, no: number, resource: Resource): void {
  const [createSeconds, createNanos] = timeOf(resource.createTime);
  const [updateSeconds, updateNanos] = timeOf(resource.updateTime);
  const size =
    stringSize(RESOURCE_NAME, resource.name) +
    stringSize(RESOURCE_PARENT, resource.parent) +
    stringSize(RESOURCE_TYPE, resource.type) +
    stringSize(RESOURCE_DISPLAY_NAME, resource.displayName) +
    stringSize(RESOURCE_ETAG, resource.etag) +
    (resource.createTime ? 1 + varintSize(timestampSize(createSeconds, createNanos)) + timestampSize(createSeconds, createNanos) : 0) +
    (resource.updateTime ? 1 + varintSize(timestampSize(updateSeconds, updateNanos)) + timestampSize(updateSeconds, updateNanos) : 0);
  out.tag(no, WireType.LengthDelimited);
  out.varint(size);
  out.string(RESOURCE_NAME, resource.name);
  out.string(RESOURCE_PARENT, resource.parent);
  out.string(RESOURCE_TYPE, resource.type);
  out.string(RESOURCE_DISPLAY_NAME, resource.displayName);
  out.string(RESOURCE_ETAG, resource.etag);
  if (resource.createTime) out.timestamp(RESOURCE_CREATE_TIME, createSeconds, createNanos);
  if (resource.updateTime) out.timestamp(RESOURCE_UPDATE_TIME, updateSeconds, updateNanos);
}

/** Reads a varint at `pos` of `bytes`: [value, position after it]. */
function readVarint(bytes: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= bytes.length) throw new Error("a stored policy ends inside a varint");
    const byte = bytes[pos++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, pos];
    scale *= 0x80;
  }
}

/** The position after the field whose value starts at `pos`. */
function skipValue(bytes: Uint8Array, pos: number, wireType: number): number {
  switch (wireType) {
    case WireType.Varint:
      return readVarint(bytes, pos)[1];
    case WireType.Bit64:
      return pos + 8;
    case WireType.Bit32:
      return pos + 4;
    case WireType.LengthDelimited: {
      const [length, at] = readVarint(bytes, pos);
      return at + length;
    }
    default:
      // Groups are not in these messages.
      throw new Error(`a stored policy holds wire type ${wireType}`);
  }
}

/** Whether the encoded Binding in bytes[start, end) has a condition (hasCondition, on the wire). */
function hasCondition(bytes: Uint8Array, start: number, end: number): boolean {
  let pos = start;
  while (pos < end) {
    const [tag, at] = readVarint(bytes, pos);
    if (tag >>> 3 === BINDING_CONDITION) return true;
    pos = skipValue(bytes, at, tag & 7);
  }
  return false;
}

/**
 * Writes, as field `no`, the encoding of `policyForVersion(decodePolicy(stored…), 3)`: the stored fields as they
 * are (less stale copies of the columns' fields), then version (3 when a binding has a condition, 1 otherwise), etag,
 * sync status SUCCESS and update time.
 */
function writePresentedPolicy(out: WireBuffer, no: number, stored: EncodedPolicy): void {
  const { bytes } = stored;
  // The ranges of the stored bytes kept: all of it, unless it holds a field a column holds.
  const kept: number[] = [];
  let conditional = false;
  let copied = 0;
  let pos = 0;
  while (pos < bytes.length) {
    const start = pos;
    const [tag, at] = readVarint(bytes, pos);
    pos = skipValue(bytes, at, tag & 7);
    const field = tag >>> 3;
    if (field === POLICY_BINDINGS && !conditional) conditional = hasCondition(bytes, readVarint(bytes, at)[1], pos);
    if (FROM_COLUMNS.has(field)) {
      if (start > copied) kept.push(copied, start);
      copied = pos;
    }
  }
  if (pos > bytes.length) throw new Error("a stored policy ends inside a field");
  if (bytes.length > copied) kept.push(copied, bytes.length);
  const seconds = Math.floor(stored.updateTime / 1000);
  const nanos = (stored.updateTime - seconds * 1000) * 1_000_000;
  const time = timestampSize(seconds, nanos);
  let size = 2 + (1 + 1 + ETAG_BYTES) + 3 + (2 + varintSize(time) + time);
  for (let i = 0; i < kept.length; i += 2) size += kept[i + 1]! - kept[i]!;
  out.tag(no, WireType.LengthDelimited);
  out.varint(size);
  for (let i = 0; i < kept.length; i += 2) out.raw(bytes.subarray(kept[i]!, kept[i + 1]!));
  out.tag(POLICY_VERSION, WireType.Varint);
  out.varint(conditional ? 3 : 1);
  out.tag(POLICY_ETAG, WireType.LengthDelimited);
  out.varint(ETAG_BYTES);
  out.raw(revisionEtag(stored.revision));
  out.tag(POLICY_SYNC_STATUS, WireType.Varint);
  out.varint(SyncStatus.SUCCESS);
  out.timestamp(POLICY_UPDATE_TIME, seconds, nanos);
}

/** The encoding of the policy GetPolicy presents from `stored` (writePresentedPolicy's, without its field header). */
export function presentedPolicyBytes(stored: EncodedPolicy): Uint8Array {
  const out = new WireBuffer();
  writePresentedPolicy(out, 1, stored);
  const [, at] = readVarint(out.bytes, 1);
  return out.bytes.slice(at, out.pos);
}

/** The resources of one page, collected either as messages or as their encodings (see the file's comment). */
export class SnapshotPage {
  private resources: SnapshotResource[] = [];
  private sharedPolicies: SharedPolicy[] = [];
  private out = new WireBuffer();
  /** Where each encoded resource starts in `out` (its length prefix), and where the last ends. */
  private starts: number[] = [];

  /** `encoded`: the page's resources are sent as bytes (a binary codec), not as messages (JSON). */
  constructor(private readonly encodedResources: boolean) {}

  /** Adds `resource` (its policy unset when `stored` is given: the stored bytes are sent instead). */
  add(resource: SnapshotResource, stored: EncodedPolicy | undefined, shared: readonly SharedPolicy[]): void {
    for (const policy of shared) this.sharedPolicies.push(policy);
    if (!this.encodedResources) {
      this.resources.push(resource);
      return;
    }
    const { resource: inner, policy } = resource;
    // The rest (ancestor, deny policy, roles, shared policy names, withheld) is rare or small: protobuf-es encodes it.
    const plain = !resource.ancestor && !resource.denyPolicy && resource.roles.length + resource.sharedPolicies.length + resource.withheld.length === 0;
    const rest = plain ? undefined : toBinary(SnapshotResourceSchema, { ...resource, resource: undefined, policy: undefined });
    const policyBytes = !stored && policy ? toBinary(PolicySchema, policy) : undefined;
    const out = this.out;
    const body = out.pos;
    // The body is written first and its length prefix put in front of it once known (a copy within the buffer).
    if (inner) writeResource(out, SNAPSHOT_RESOURCE_RESOURCE, inner);
    if (stored) writePresentedPolicy(out, SNAPSHOT_RESOURCE_POLICY, stored);
    if (policyBytes) out.tag(SNAPSHOT_RESOURCE_POLICY, WireType.LengthDelimited), out.varint(policyBytes.length), out.raw(policyBytes);
    if (rest) out.raw(rest);
    const length = out.pos - body;
    const prefix = varintSize(length);
    out.ensure(prefix);
    out.bytes.copyWithin(body + prefix, body, body + length);
    out.pos = body;
    out.varint(length);
    out.pos = body + prefix + length;
    this.starts.push(body);
  }

  /** The page's message, and a fresh page. */
  take(sequence: bigint, last: boolean): SnapshotResponse {
    const response = create(SnapshotResponseSchema, { sequence, resources: this.resources, sharedPolicies: this.sharedPolicies, last });
    if (this.starts.length > 0) {
      const bytes = this.out.bytes;
      const ends = [...this.starts.slice(1), this.out.pos];
      response.$unknown = this.starts.map(
        (start, i): UnknownField => ({ no: SNAPSHOT_RESPONSE_RESOURCES, wireType: WireType.LengthDelimited, data: bytes.subarray(start, ends[i]) }),
      );
    }
    this.resources = [];
    this.sharedPolicies = [];
    this.out = new WireBuffer();
    this.starts = [];
    return response;
  }
}
