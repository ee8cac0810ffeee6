// Etags are minted here, for every store: each is derived from the change-log sequence of the write that produced a
// state, which identifies it uniquely and forever (sequences are never reused), so it is a strong etag. Clients treat
// the bytes as opaque.

const ETAG_FORMAT = 1;

/** A policy's etag: the sequence of its last write (or of its resource's creation, for a policy never set). */
export function revisionEtag(seq: number): Uint8Array {
  const bytes = new Uint8Array(9);
  bytes[0] = ETAG_FORMAT;
  new DataView(bytes.buffer).setBigUint64(1, BigInt(seq));
  return bytes;
}

/** A resource's etag (a string field): the same bytes, base64url. */
export function resourceEtag(seq: number): string {
  return Buffer.from(revisionEtag(seq)).toString("base64url");
}

/** The change-log sequence an etag was minted from (its revision); undefined for bytes this module did not mint. */
export function etagSequence(etag: Uint8Array): number | undefined {
  if (etag.length !== 9 || etag[0] !== ETAG_FORMAT) return undefined;
  // Two 32-bit halves, big-endian, without a DataView or a BigInt: ListPolicies reads this for every listed policy.
  const high = ((etag[1]! << 24) | (etag[2]! << 16) | (etag[3]! << 8) | etag[4]!) >>> 0;
  const low = ((etag[5]! << 24) | (etag[6]! << 16) | (etag[7]! << 8) | etag[8]!) >>> 0;
  return high * 2 ** 32 + low;
}
