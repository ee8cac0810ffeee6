// One interceptor around every call: turns failures into ConnectErrors and logs one line per call.
import { Code, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { toConnectError } from "./errors.js";

export function callInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const protocol = protocolOf(req.header.get("content-type") ?? "");
    let code = "ok";
    try {
      return await next(req);
    } catch (e) {
      const error = toConnectError(e, (cause) => logger.error({ err: cause, procedure }, "unexpected error"));
      code = Code[error.code] ?? String(error.code);
      throw error;
    } finally {
      logger.info({ procedure, protocol, code, ms: Math.round((performance.now() - started) * 1000) / 1000 }, "call");
    }
  };
}

function protocolOf(contentType: string): string {
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  return "connect";
}

