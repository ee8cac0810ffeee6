// What a check's `atLeast` may be: a change-log sequence (a CheckAccess response's, a Watch change's, a write's
// `policy-sequence`), or the etag a write returned — policy and deny-policy etags are minted from the sequence of the
// write (src/etag.ts), and a resource's etag is the same bytes in base64url.
import { etagSequence } from "../../etag.js";

/** A sequence (bigint, number or decimal string), a policy's etag bytes, or a resource's etag string. */
export type ConsistencyToken = bigint | number | string | Uint8Array;

/** The sequence a token stands for; throws a RangeError for what is none of the above. */
export function tokenSequence(token: ConsistencyToken): bigint {
  if (typeof token === "bigint") return token;
  if (typeof token === "number") {
    if (!Number.isSafeInteger(token) || token < 0) throw new RangeError(`atLeast: ${token} is not a sequence`);
    return BigInt(token);
  }
  if (typeof token === "string") {
    if (/^\d+$/.test(token)) return BigInt(token);
    const seq = etagSequence(Uint8Array.from(Buffer.from(token, "base64url")));
    if (seq === undefined) throw new RangeError(`atLeast: "${token}" is neither a sequence nor an etag this service minted`);
    return BigInt(seq);
  }
  const seq = etagSequence(token);
  if (seq === undefined) throw new RangeError("atLeast: the bytes are not an etag this service minted");
  return BigInt(seq);
}
