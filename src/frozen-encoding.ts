// The encoding of a frozen message, made once: a frozen message cannot change (frozen-value.ts), so its bytes are
// memoised by it, and whoever sends or measures it (the gRPC port, Watch's window) encodes it once between them.
import { create, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import { deepFreeze, isDeepFrozen } from "./frozen-value.js";

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

/**
 * A message of `schema` that carries `bytes` (an encoding of one) in its unknown fields: protobuf-es writes unknown
 * fields as they are, so the same bytes go out, copied instead of encoded again (and every reader parses them as the
 * fields they are); the gRPC port sends its memoised encoding, `bytes` themselves. The encoding is split after its
 * first tag: that tag as the unknown field's number and wire type, the rest as its data, which protobuf-es writes back
 * as the same bytes. Binary codecs only: JSON writes no unknown fields. Frozen, so that it is shared.
 */
export function carrierOf<T extends Message>(schema: DescMessage, bytes: Uint8Array): T {
  const carrier = create(schema) as T;
  if (bytes.length > 0) {
    let tag = 0;
    let at = 0;
    for (let shift = 1; ; shift *= 128) {
      const byte = bytes[at++]!;
      tag += (byte & 0x7f) * shift;
      if (byte < 0x80) break;
    }
    carrier.$unknown = [{ no: Math.floor(tag / 8), wireType: tag % 8, data: bytes.subarray(at) }];
  }
  deepFreeze(carrier);
  rememberEncoding(carrier, bytes);
  return carrier;
}
