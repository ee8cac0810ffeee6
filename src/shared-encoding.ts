// The encoding of a shared message, made once: a shared message cannot change (shared-value.ts), so its bytes are
// memoised by it, and whoever sends or measures it (the gRPC port, Watch's window) encodes it once between them.
import { toBinary, type DescMessage } from "@bufbuild/protobuf";
import { isShared } from "./shared-value.js";

const encodings = new WeakMap<object, Uint8Array>();

/** `message`'s bytes: memoised when it is shared, encoded anew otherwise. */
export function encodingOf(schema: DescMessage, message: object): Uint8Array {
  if (!isShared(message)) return toBinary(schema, message as never);
  let encoded = encodings.get(message);
  if (!encoded) {
    encoded = toBinary(schema, message as never);
    encodings.set(message, encoded);
  }
  return encoded;
}

/** The memoised encoding of a shared message, if it was made. */
export function knownEncodingOf(message: object): Uint8Array | undefined {
  return encodings.get(message);
}

/** Records the bytes of a shared message put together by hand (they must be exactly its encoding). */
export function rememberEncoding(message: object, bytes: Uint8Array): void {
  if (isShared(message)) encodings.set(message, bytes);
}
