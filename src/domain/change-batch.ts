// The batched response of one delivery turn. Streams that send the same changes of a turn (the common case: many
// followers of one scope) share one response, and its bytes are put together from each change's own encoding (made
// once per change): sending a batch to a thousand watchers encodes nothing again, and the batch is a message only
// when a stream needs one (shared-response.ts). Only the last few turns' batches are kept.
import { create } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { WatchResponseSchema, type WatchResponse } from "../../gen/policy/v1/watch_service_pb.js";
import type { ChangeRecord } from "../store/store.js";
import { responseOf, sharedChangeOf } from "./change-message.js";
import { SharedResponse } from "./shared-response.js";

/** The variants of one turn kept for sharing (streams with different filters or permissions send different ones). */
const MAX_VARIANTS = 8;
/**
 * The turns whose batches are kept: the streams woken by one turn ask within it, and one that lags behind asks for
 * a batch no other stream sends. Not kept for as long as the changes stay in the feed's window (a WeakMap on them
 * did that): every turn's bytes, a second copy of every change's, then stayed on the heap with the window, and the
 * garbage collector walked and copied them on every collection while streams followed.
 */
const RECENT_TURNS = 4;

/** Keyed by the turn's last change (the record, not its sequence: servers in one process have their own), oldest first. */
const batches = new Map<ChangeRecord, Map<string, SharedResponse>>();

/** The response carrying `changes` (ascending, non-empty) that covers the change log up to `lastSequence`. */
export function batchResponseOf(changes: readonly ChangeRecord[], lastSequence: number): SharedResponse {
  // The streams of a turn that send its whole read ask with the same array (ChangeFeed.readHeld): no key to make.
  if (lastAsked && changes === lastAsked.changes && lastSequence === lastAsked.lastSequence) return lastAsked.response;
  const response = lookUp(changes, lastSequence);
  lastAsked = { changes, lastSequence, response };
  return response;
}

let lastAsked: { changes: readonly ChangeRecord[]; lastSequence: number; response: SharedResponse } | undefined;

function lookUp(changes: readonly ChangeRecord[], lastSequence: number): SharedResponse {
  const last = changes.at(-1)!;
  let variants = batches.get(last);
  const key = keyOf(changes, lastSequence);
  const known = variants?.get(key);
  if (known) return known;
  const made = build(changes, lastSequence);
  if (!variants) {
    batches.set(last, (variants = new Map()));
    if (batches.size > RECENT_TURNS) batches.delete(batches.keys().next().value!);
  }
  if (variants.size < MAX_VARIANTS) variants.set(key, made);
  return made;
}

/**
 * Which changes a batch carries, as a key: the change log has no gap, so a run of consecutive sequences (every change
 * of the turn, what most streams send) is named by its ends, at no cost per change and per stream.
 */
function keyOf(changes: readonly ChangeRecord[], lastSequence: number): string {
  const first = changes[0]!.seq;
  const last = changes.at(-1)!.seq;
  if (last - first + 1 === changes.length) return `${lastSequence}:${first}-${last}`;
  return `${lastSequence}:${changes.map((c) => c.seq).join(",")}`;
}

function build(changes: readonly ChangeRecord[], lastSequence: number): SharedResponse {
  // A one-change response is WatchResponse{change (1): Change}, and ChangeBatch's changes are field 1 too: the
  // batch's body is those encodings one after the other, then last_sequence (2).
  const parts = changes.map((change) => responseOf(change).encoded);
  const tail = [...varint((2 << 3) | WireType.Varint), ...varint(lastSequence)];
  const bodyLength = parts.reduce((sum, part) => sum + part.length, 0) + tail.length;
  const head = [...varint((3 << 3) | WireType.LengthDelimited), ...varint(bodyLength)];
  const bytes = new Uint8Array(head.length + bodyLength);
  bytes.set(head);
  let offset = head.length;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  bytes.set(tail, offset);
  return new SharedResponse(bytes, (): WatchResponse =>
    create(WatchResponseSchema, {
      event: { case: "batch", value: { changes: changes.map(sharedChangeOf), lastSequence: BigInt(lastSequence) } },
    }),
  );
}

/** A non-negative integer as a protobuf varint (sequences stay below 2^53). */
function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}
