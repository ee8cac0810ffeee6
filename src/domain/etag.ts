import { timingSafeEqual } from "node:crypto";

/** Etags compared in constant time. */
export function sameEtag(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
