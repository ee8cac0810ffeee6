// An etag is the big-endian sequence of the write behind it, after a format byte: minted without a BigInt, it must
// be the same bytes for every sequence a store can reach (below 2^53), and read back as that sequence.
import { expect, test } from "vitest";
import { etagSequence, resourceEtag, revisionEtag } from "../src/etag.js";

test("etags are the sequence's 64-bit big-endian bytes after the format byte, and read back", () => {
  for (const seq of [0, 1, 255, 256, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12_345, 2 ** 53 - 1]) {
    const expected = new Uint8Array(9);
    expected[0] = 1;
    new DataView(expected.buffer).setBigUint64(1, BigInt(seq));
    expect(revisionEtag(seq)).toEqual(expected);
    expect(etagSequence(revisionEtag(seq))).toBe(seq);
    expect(resourceEtag(seq)).toBe(Buffer.from(expected).toString("base64url"));
  }
});
