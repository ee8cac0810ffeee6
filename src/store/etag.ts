// Etags live in src/etag.ts, which the domain imports too (the domain may not import store/). This re-export keeps
// the stores' imports until the store rewrite of issue 27 merges; they then import ../etag.js and this file goes.
export { etagSequence, resourceEtag, revisionEtag } from "../etag.js";
