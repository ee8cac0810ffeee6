// The old names of frozen-value.ts, for the store (caching-store.ts) and its conformance suite until the store
// rewrite of issue 27 merges; they then import frozen-value.ts and this file goes. Nothing else may import it
// (test/architecture.test.ts).
export { deepFreeze as share, isDeepFrozen as isShared } from "./frozen-value.js";
