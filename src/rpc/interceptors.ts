// One interceptor around every call: turns failures into ConnectErrors and logs one line per call.
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { DescMethod } from "@bufbuild/protobuf";
import type { ConnectError, Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { codeName } from "../code-name.js";
import { storeFailureOf, toConnectError } from "./connect-errors.js";
import { peerKey, protocolKey } from "./context.js";
import type { CallSeries, Metrics } from "./metrics.js";
import { observed, withMessage } from "./call-messages.js";

/** Response header of every write: a change-log sequence at least as new as the write (a consistency token). */
export const SEQUENCE_HEADER = "policy-sequence";

export interface CallObservers {
  logger: Logger;
  metrics: Metrics;
  /** The newest sequence this server has committed. */
  writtenSequence: () => number;
}

/**
 * The call log: one line per call, with procedure, protocol, code, duration and peer: at info for writes, streams and
 * every failure; at debug for a successful read (a unary call without side effects, health checks and reflection
 * included), IAM's split between admin activity, always logged, and data access, logged when asked for (audit
 * configs do that here). Lines are written asynchronously (see main.ts). docs/operations.md, "Logs", says why.
 */
export function callInterceptor({ logger, metrics, writtenSequence }: CallObservers): Interceptor {
  // Per method, per interceptor (each server has its own Metrics): the facts and metric series a call needs.
  const facts = new WeakMap<DescMethod, MethodFacts>();
  const factsOf = (method: DescMethod) => {
    let f = facts.get(method);
    if (!f) {
      f = new MethodFacts(method, metrics, logger);
      facts.set(method, f);
    }
    return f;
  };
  const observers = { logger, metrics };
  return (next) => async (req) => {
    const started = performance.now();
    const method = factsOf(req.method);
    let code = "OK";
    try {
      const res = await next(req);
      if (method.write) res.header.set(SEQUENCE_HEADER, String(writtenSequence()));
      // A stream's failure is raised while it is read, after this returns: map it as a unary call's is.
      if (res.stream && method.serverStreaming) {
        return withMessage(res, observed(res.message, { error: (e) => mapped(e, method.procedure, observers) }));
      }
      return res;
    } catch (e) {
      const error = mapped(e, method.procedure, observers);
      code = codeName(error.code);
      throw error;
    } finally {
      const ms = performance.now() - started;
      const on = method.on(req.contextValues.get(protocolKey) || protocolOf(req.header.get("content-type") ?? ""));
      on.series.observe(code, ms / 1000);
      const level = method.quiet && code === "OK" ? "debug" : "info";
      if (on.log.isLevelEnabled(level)) on.log[level]({ code, ms: Math.round(ms * 1000) / 1000, peer: req.contextValues.get(peerKey) }, "call");
    }
  };
}

/** A failure as a ConnectError, with the store's failures counted and unexpected ones logged with their stack. */
function mapped(e: unknown, procedure: string, { logger, metrics }: Omit<CallObservers, "writtenSequence">): ConnectError {
  const failure = storeFailureOf(e);
  if (failure) {
    metrics.observeStoreFailure(failure.kind);
    logger.warn({ procedure, store: failure.kind }, failure.message);
  }
  return toConnectError(e, (cause) => logger.error({ err: cause, procedure }, "unexpected error"));
}

/** What the call interceptor needs to know about a method, computed on its first call. */
class MethodFacts {
  readonly procedure: string;
  readonly write: boolean;
  readonly serverStreaming: boolean;
  /** Reads (unary, no side effects; health and reflection too): their successful calls log at debug. */
  readonly quiet: boolean;
  private readonly byProtocol = new Map<string, { series: CallSeries; log: Logger }>();

  constructor(
    method: DescMethod,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.procedure = procedureOf(method);
    this.write = isWrite(method);
    this.serverStreaming = method.methodKind === "server_streaming";
    this.quiet =
      !method.parent.typeName.startsWith("policy.") ||
      (method.methodKind === "unary" && method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS);
  }

  /**
   * The method's metric series and call logger on `protocol`, bound once: the logger is a pino child whose
   * procedure and protocol are serialised once, so a call line serialises only its code, duration and peer.
   */
  on(protocol: string): { series: CallSeries; log: Logger } {
    let bound = this.byProtocol.get(protocol);
    if (!bound) {
      bound = {
        series: this.metrics.callSeries(this.procedure, protocol),
        log: this.logger.child({ procedure: this.procedure, protocol }),
      };
      this.byProtocol.set(protocol, bound);
    }
    return bound;
  }
}

const procedures = new WeakMap<DescMethod, string>();

/** `{package}.{Service}/{Method}`, as logs and metrics name a method. */
export function procedureOf(method: DescMethod): string {
  let procedure = procedures.get(method);
  if (procedure === undefined) {
    procedure = `${method.parent.typeName}/${method.name}`;
    procedures.set(method, procedure);
  }
  return procedure;
}

/** A unary method of this service's own API without the NO_SIDE_EFFECTS option. */
function isWrite(method: DescMethod): boolean {
  return (
    method.methodKind === "unary" &&
    method.parent.typeName.startsWith("policy.") &&
    method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS
  );
}

/** The wire protocol of a call of the main port, from its content type. */
export function protocolOf(contentType: string): string {
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  return "connect";
}

