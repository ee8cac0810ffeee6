// Frozen messages are how the read path shares objects safely: a cached policy, a presented policy, an effective
// policy are frozen, handed to every reader, and encoded once (see rpc/grpc-js-server.ts).

/** Freezes a message and every message and list inside it (byte arrays cannot be frozen and are left as they are). */
export function deepFreeze<T extends object>(value: T): T {
  for (const field of Object.values(value)) {
    if (typeof field === "object" && field !== null && !ArrayBuffer.isView(field) && !Object.isFrozen(field)) deepFreeze(field);
  }
  return Object.freeze(value);
}
