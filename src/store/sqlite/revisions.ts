// Etags are derived from change-log sequence numbers: the sequence of the write that produced a state identifies it
// uniquely and forever (sequences are never reused), so it is a strong etag. Clients treat the bytes as opaque.

const ETAG_FORMAT = 1;

export function revisionEtag(seq: number): Uint8Array {
  const bytes = new Uint8Array(9);
  bytes[0] = ETAG_FORMAT;
  new DataView(bytes.buffer).setBigUint64(1, BigInt(seq));
  return bytes;
}

export function resourceEtag(seq: number): string {
  return Buffer.from(revisionEtag(seq)).toString("base64url");
}
