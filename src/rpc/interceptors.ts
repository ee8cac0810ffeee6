// One interceptor around every call: turns failures into ConnectErrors and logs one line per call.
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { DescMethod } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { codeName } from "../code-name.js";
import { storeFailureOf, toConnectError } from "./errors.js";
import { peerKey, protocolKey } from "./context.js";
import type { Metrics } from "./metrics.js";
import { withMessage } from "./call-messages.js";

/** Response header of every write: a change-log sequence at least as new as the write (a consistency token). */
export const SEQUENCE_HEADER = "policy-sequence";

export interface CallObservers {
  logger: Logger;
  metrics: Metrics;
  /** The newest sequence this server has committed. */
  writtenSequence: () => number;
}

export function callInterceptor({ logger, metrics, writtenSequence }: CallObservers): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const procedure = procedureOf(req.method);
    const protocol = req.contextValues.get(protocolKey) || protocolOf(req.header.get("content-type") ?? "");
    let code = "OK";
    const mapped = (e: unknown) => {
      const failure = storeFailureOf(e);
      if (failure) {
        metrics.observeStoreFailure(failure.kind);
        logger.warn({ procedure, store: failure.kind }, failure.message);
      }
      return toConnectError(e, (cause) => logger.error({ err: cause, procedure }, "unexpected error"));
    };
    try {
      const res = await next(req);
      if (writes.get(req.method) ?? cacheIsWrite(req.method)) {
        res.header.set(SEQUENCE_HEADER, String(writtenSequence()));
      }
      // A stream's failure is raised while it is read, after this returns: map it as a unary call's is.
      if (res.stream && req.method.methodKind === "server_streaming") return withMessage(res, mappingErrors(res.message, mapped));
      return res;
    } catch (e) {
      const error = mapped(e);
      code = codeName(error.code);
      throw error;
    } finally {
      const ms = performance.now() - started;
      metrics.observeCall(procedure, protocol, code, ms / 1000);
      if (logger.isLevelEnabled("info")) {
        logger.info({ procedure, protocol, code, ms: Math.round(ms * 1000) / 1000, peer: req.contextValues.get(peerKey) }, "call");
      }
    }
  };
}

async function* mappingErrors<T>(messages: AsyncIterable<T>, mapped: (e: unknown) => Error): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (e) {
    throw mapped(e);
  }
}

// Per-method facts, computed once: this interceptor runs on every call.
const procedures = new WeakMap<DescMethod, string>();
const writes = new WeakMap<DescMethod, boolean>();

/** `{package}.{Service}/{Method}`, as logs and metrics name a method. */
export function procedureOf(method: DescMethod): string {
  let procedure = procedures.get(method);
  if (procedure === undefined) {
    procedure = `${method.parent.typeName}/${method.name}`;
    procedures.set(method, procedure);
  }
  return procedure;
}

function cacheIsWrite(method: DescMethod): boolean {
  const write = isWrite(method);
  writes.set(method, write);
  return write;
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

