// One interceptor around every call: turns failures into ConnectErrors and logs one line per call.
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { toConnectError } from "./errors.js";

/** Response header of every write: a change-log sequence at least as new as the write (a consistency token). */
export const SEQUENCE_HEADER = "policy-sequence";

/** `writtenSequence` gives the newest sequence this server has committed. */
export function callInterceptor(logger: Logger, writtenSequence: () => number): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const protocol = protocolOf(req.header.get("content-type") ?? "");
    let code = "ok";
    try {
      const res = await next(req);
      if (isWrite(req.method)) {
        res.header.set(SEQUENCE_HEADER, String(writtenSequence()));
      }
      return res;
    } catch (e) {
      const error = toConnectError(e, (cause) => logger.error({ err: cause, procedure }, "unexpected error"));
      code = Code[error.code] ?? String(error.code);
      throw error;
    } finally {
      logger.info({ procedure, protocol, code, ms: Math.round((performance.now() - started) * 1000) / 1000 }, "call");
    }
  };
}

/** A unary method of this service's own API without the NO_SIDE_EFFECTS option. */
function isWrite(method: DescMethod): boolean {
  return (
    method.methodKind === "unary" &&
    method.parent.typeName.startsWith("policy.") &&
    method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS
  );
}

function protocolOf(contentType: string): string {
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  return "connect";
}

