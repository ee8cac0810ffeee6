// Etags, in one place: every store mints them here, the domain compares them and reads their sequence here (and so
// does the SDK's mirror). Each is derived from the change-log sequence of the write that produced a state, which
// identifies it uniquely and forever (sequences are never reused), so it is a strong etag. Clients treat the bytes as
// opaque.
import { timingSafeEqual } from "node:crypto";

const ETAG_FORMAT = 1;

/** A policy's etag: the sequence of its last write (or of its resource's creation, for a policy never set). */
export function revisionEtag(seq: number): Uint8Array {
  // Two 32-bit halves, big-endian, without a DataView or a BigInt: a snapshot mints two for each of its resources.
  const bytes = new Uint8Array(9);
  bytes[0] = ETAG_FORMAT;
  const high = Math.floor(seq / 2 ** 32);
  const low = seq >>> 0;
  bytes[1] = high >>> 24;
  bytes[2] = (high >>> 16) & 0xff;
  bytes[3] = (high >>> 8) & 0xff;
  bytes[4] = high & 0xff;
  bytes[5] = low >>> 24;
  bytes[6] = (low >>> 16) & 0xff;
  bytes[7] = (low >>> 8) & 0xff;
  bytes[8] = low & 0xff;
  return bytes;
}

/** A resource's etag (a string field): the same bytes, base64url. */
export function resourceEtag(seq: number): string {
  const bytes = revisionEtag(seq);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

/** The change-log sequence an etag was minted from (its revision); undefined for bytes this module did not mint. */
export function etagSequence(etag: Uint8Array): number | undefined {
  if (etag.length !== 9 || etag[0] !== ETAG_FORMAT) return undefined;
  // Two 32-bit halves, big-endian, without a DataView or a BigInt: ListPolicies reads this for every listed policy.
  const high = ((etag[1]! << 24) | (etag[2]! << 16) | (etag[3]! << 8) | etag[4]!) >>> 0;
  const low = ((etag[5]! << 24) | (etag[6]! << 16) | (etag[7]! << 8) | etag[8]!) >>> 0;
  return high * 2 ** 32 + low;
}

/** Etags compared in constant time. */
export function sameEtag(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
