// gRPC error messages on the main port, encoded as the gRPC spec encodes them, so that every client reads the same
// message as on the gRPC port. connect-node percent-encodes `grpc-message` with encodeURIComponent, escaping `/`, `:`,
// `;`, `,` too; that is valid, but grpc-js clients decode it with decodeURI, which leaves those escapes in place
// (`resource "projects%2Fx" not found%3B ...`). The spec's encoding escapes only `%` and bytes outside printable ASCII
// (PROTOCOL-HTTP2.md, Status-Message), which every client decodes back to the original.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

const GRPC_MESSAGE = "grpc-message";

/** Wraps a request handler so that the `grpc-message` of its gRPC (not gRPC-Web) responses is spec-encoded. */
export function specEncodedGrpcMessages<H extends (req: never, res: never) => void>(handler: H): H {
  const wrapped = (req: Request, res: Response) => {
    const contentType = req.headers["content-type"] ?? "";
    if (contentType.startsWith("application/grpc") && !contentType.startsWith("application/grpc-web")) {
      const writeHead = res.writeHead as (...args: unknown[]) => unknown;
      res.writeHead = ((...args: unknown[]) => writeHead.apply(res, args.map(reencoded))) as typeof res.writeHead;
      const addTrailers = res.addTrailers as (trailers: unknown) => void;
      res.addTrailers = ((trailers: unknown) => addTrailers.call(res, reencoded(trailers))) as typeof res.addTrailers;
    }
    (handler as unknown as (req: Request, res: Response) => void)(req, res);
  };
  return wrapped as unknown as H;
}

function reencoded(headers: unknown): unknown {
  if (headers === null || typeof headers !== "object" || Array.isArray(headers)) return headers;
  const value = (headers as Record<string, unknown>)[GRPC_MESSAGE];
  if (typeof value !== "string") return headers;
  let message = value;
  try {
    message = decodeURIComponent(value);
  } catch {
    // Not percent-encoded after all: send it as it is, encoded.
  }
  return { ...headers, [GRPC_MESSAGE]: encodeGrpcMessage(message) };
}

/** Percent-encodes `message` as gRPC's Status-Message: every UTF-8 byte outside 0x20-0x7E, and `%`. */
export function encodeGrpcMessage(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
