// Undecodable request messages on the main port are INVALID_ARGUMENT, as grpc-go and grpc-java answer them (and as
// the gRPC port does, see grpc-js-server.ts). connect-node offers no hook for it: its binary serialization
// (@connectrpc/connect protocol/serialization.js, createBinarySerialization) throws
// `ConnectError("parse binary: …", Code.Internal)` from a closure the router builds, and a unary request is decoded
// before any interceptor runs. So the router's handlers are wrapped, and a response whose status is that very error
// is re-labelled: the gRPC trailer, the Connect unary status and body, the gRPC-Web and Connect end-of-stream frames.
import type { ConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";

const PARSE_FAILURE = "parse binary:";
const FRAME_TRAILER = 0x80; // gRPC-Web: the last frame carries the trailers
const FRAME_END_STREAM = 0x02; // Connect streaming: the last frame is the end-of-stream message

/** Wraps every handler of `router` (call after registering the services). */
export function undecodableIsInvalidArgument(router: ConnectRouter): void {
  const handlers = router.handlers;
  handlers.forEach((handler, i) => {
    const wrapped = Object.assign(async (req: Parameters<UniversalHandler>[0]) => relabelled(await handler(req)), handler);
    handlers[i] = wrapped as UniversalHandler;
  });
}

async function relabelled(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  const { trailer, body } = res;
  if (res.status === 500 && body && res.header?.get("content-type")?.startsWith("application/json")) {
    // A Connect unary error: a short JSON body, read whole to decide.
    const chunks: Uint8Array[] = [];
    for await (const chunk of body) chunks.push(chunk);
    const text = Buffer.concat(chunks).toString("utf8");
    const parseFailure = text.includes(`"code":"internal"`) && text.includes(PARSE_FAILURE);
    const fixed = parseFailure ? text.replace(`"code":"internal"`, `"code":"invalid_argument"`) : text;
    // The relabelled body is longer than the one measured.
    if (parseFailure) res.header.delete("content-length");
    return { ...res, status: parseFailure ? 400 : 500, body: once(Buffer.from(fixed, "utf8")) };
  }
  const fixTrailer = () => {
    if (trailer?.get("grpc-status") === "13" && decoded(trailer.get("grpc-message")).startsWith(PARSE_FAILURE)) {
      trailer.set("grpc-status", "3");
    }
  };
  fixTrailer();
  return {
    ...res,
    body:
      body &&
      (async function* () {
        for await (const chunk of body) yield lastFrame(chunk);
        fixTrailer();
      })(),
  };
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

function decoded(value: string | null): string {
  try {
    return decodeURIComponent(value ?? "");
  } catch {
    return value ?? "";
  }
}

// One enveloped frame: flags (1 byte), length (4 bytes), then the trailers (gRPC-Web) or end-of-stream JSON (Connect).
function lastFrame(chunk: Uint8Array): Uint8Array {
  if (chunk.length < 5 || (chunk[0]! & (FRAME_TRAILER | FRAME_END_STREAM)) === 0) return chunk;
  const text = Buffer.from(chunk.subarray(5)).toString("utf8");
  if (!decoded(text).includes(PARSE_FAILURE)) return chunk;
  const fixed = text.replace(/grpc-status: ?13\b/, "grpc-status: 3").replace(`"code":"internal"`, `"code":"invalid_argument"`);
  if (fixed === text) return chunk;
  const data = Buffer.from(fixed, "utf8");
  const frame = Buffer.alloc(5 + data.length);
  frame[0] = chunk[0]!;
  frame.writeUInt32BE(data.length, 1);
  data.copy(frame, 5);
  return frame;
}
