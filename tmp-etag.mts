import { revisionEtag, etagSequence } from "./src/store/etag.js";
for (const n of [0, 1, 255, 256, 2**31, 2**32 - 1, 2**32, 2**40 + 12345, 2**53 - 1]) {
  const b = new Uint8Array(9); b[0] = 1; new DataView(b.buffer).setBigUint64(1, BigInt(n));
  const a = revisionEtag(n); if (a.join() !== b.join() || etagSequence(a) !== n) throw new Error(String(n));
}
console.log("ok");
