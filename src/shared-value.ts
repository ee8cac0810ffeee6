// Shared values: objects handed to every reader at once (a cached policy, a presented policy, an effective policy).
// A shared value is deep-frozen, so no reader can change what the next one sees, and it never changes while it is
// shared: memos keyed by it (a presented version, compiled conditions, an encoded response) stay valid as long as it
// lives. Only `share` makes one; a frozen object that did not come from it is not shared.

const shared = new WeakSet<object>();

/**
 * Freezes `value` and everything inside it (byte arrays cannot be frozen and are left as they are) and marks them
 * shared: what is inside a shared value is shared too.
 */
export function share<T extends object>(value: T): T {
  if (!shared.has(value)) freezeAndMark(value);
  return value;
}

/** Whether `value` came from `share`: immutable, so whatever is derived from it may be memoised by it. */
export function isShared(value: object): boolean {
  return shared.has(value);
}

function freezeAndMark(value: object): void {
  for (const field of Object.values(value)) {
    if (typeof field === "object" && field !== null && !ArrayBuffer.isView(field) && !shared.has(field)) freezeAndMark(field);
  }
  Object.freeze(value);
  shared.add(value);
}
