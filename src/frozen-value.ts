// Frozen values: objects handed to every reader at once (a cached policy, a presented policy, an effective policy).
// A frozen value is deep-frozen, so no reader can change what the next one sees, and it never changes while it is
// handed out: memos keyed by it (a presented version, compiled conditions, an encoded response) stay valid as long as
// it lives. Only `deepFreeze` makes one; an object frozen any other way (Object.freeze) is not one.

const frozen = new WeakSet<object>();

/**
 * Freezes `value` and everything inside it (byte arrays cannot be frozen and are left as they are) and marks them
 * frozen values: what is inside a frozen value is one too.
 */
export function deepFreeze<T extends object>(value: T): T {
  if (!frozen.has(value)) freezeAndMark(value);
  return value;
}

/** Whether `value` came from `deepFreeze`: immutable, so whatever is derived from it may be memoised by it. */
export function isDeepFrozen(value: object): boolean {
  return frozen.has(value);
}

function freezeAndMark(value: object): void {
  for (const field of Object.values(value)) {
    if (typeof field === "object" && field !== null && !ArrayBuffer.isView(field) && !frozen.has(field)) freezeAndMark(field);
  }
  Object.freeze(value);
  frozen.add(value);
}
