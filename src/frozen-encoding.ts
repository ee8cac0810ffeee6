// The encoding of a frozen message, made once: a frozen message cannot change (frozen-value.ts), so its bytes are
// memoised by it, and whoever sends or measures it (the gRPC port, Watch's window) encodes it once between them.
import { toBinary, type DescMessage } from "@bufbuild/protobuf";
import { isDeepFrozen } from "./frozen-value.js";

const encodings = new WeakMap<object, Uint8Array>();

/** `message`'s bytes: memoised when it is frozen, encoded anew otherwise. */
export function encodingOf(schema: DescMessage, message: object): Uint8Array {
  if (!isDeepFrozen(message)) return toBinary(schema, message as never);
  let encoded = encodings.get(message);
  if (!encoded) {
    encoded = toBinary(schema, message as never);
    encodings.set(message, encoded);
  }
  return encoded;
}

/** The memoised encoding of a frozen message, if it was made. */
export function knownEncodingOf(message: object): Uint8Array | undefined {
  return encodings.get(message);
}

/** Records the bytes of a frozen message put together by hand (they must be exactly its encoding). */
export function rememberEncoding(message: object, bytes: Uint8Array): void {
  if (isDeepFrozen(message)) encodings.set(message, bytes);
}
