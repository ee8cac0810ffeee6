// grpc-js copies every response it sends behind the 5-byte gRPC frame header (BaseServerInterceptingCall's
// serializeMessage allocates the message's length + 5 and copies it in, per call). A Watch batch goes to every stream
// of a turn, so that copy was made once per stream: with 100 watchers under 16 writers, ~20 µs of the server's CPU per
// write and as much garbage (measured with a CPU profile). A frozen message with a known encoding (Watch's shared
// responses) is framed once here, and every stream sends those bytes. grpc-js has no public way to send bytes framed
// already: its serializeMessage is wrapped, once, to pass a FramedResponse through as it is; anything else goes the
// way it went (grpc-js's server sends no compressed responses, so the frame's flag is always 0).
import { BaseServerInterceptingCall } from "@grpc/grpc-js/build/src/server-interceptors.js";
import { knownEncodingOf } from "../frozen-encoding.js";

/** A response's gRPC frame: flag 0, the length (4 bytes, big-endian), the message. */
export class FramedResponse {
  constructor(readonly bytes: Buffer) {}
}

const frames = new WeakMap<object, FramedResponse>();

/** The frame of a frozen message whose encoding is known, made once; undefined for any other message. */
export function framedResponseOf(message: object): FramedResponse | undefined {
  let framed = frames.get(message);
  if (framed) return framed;
  const encoded = knownEncodingOf(message);
  if (!encoded) return undefined;
  const bytes = Buffer.allocUnsafe(encoded.length + 5);
  bytes[0] = 0;
  bytes.writeUInt32BE(encoded.length, 1);
  bytes.set(encoded, 5);
  framed = new FramedResponse(bytes);
  frames.set(message, framed);
  return framed;
}

let installed = false;

/** Lets grpc-js send a FramedResponse as its bytes (once per process; the servers of one process share grpc-js). */
export function sendFramedResponses(): void {
  if (installed) return;
  const prototype = BaseServerInterceptingCall.prototype as unknown as { serializeMessage: (value: unknown) => Buffer };
  const serialize = prototype.serializeMessage;
  if (typeof serialize !== "function") throw new Error("@grpc/grpc-js: BaseServerInterceptingCall.serializeMessage is gone; see src/rpc/grpc-js-framed.ts");
  prototype.serializeMessage = function (this: unknown, value: unknown): Buffer {
    return value instanceof FramedResponse ? value.bytes : serialize.call(this, value);
  };
  installed = true;
}
