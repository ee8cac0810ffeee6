// The server span of every call, on both ports and every protocol (installed only when tracing is configured): the
// caller's W3C `traceparent`/`tracestate` continue its trace, the sampler decides first (a call not sampled costs a
// header lookup and nothing more), and a sampled call runs with its span active so that store work, condition
// evaluation and Watch deliveries nest under it (tracing/spans.ts).
// Recorded: the method, the protocol, the status code, the type of the resource the call is about. Never recorded:
// resource names, members, principals, request or error messages (they may quote any of these).
import {
  Code,
  ConnectError,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Context, type Span, type TextMapGetter, type Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { codeName } from "../code-name.js";
import { remoteParent, type CallSampler } from "../tracing/sampling.js";
import { MAX_SPANS_PER_CALL, withTracedCall, type TracedCall } from "../tracing/spans.js";
import type { WriteSpans } from "../tracing/writes.js";
import { withMessage } from "./call-messages.js";
import { callScopeKey, headerValueKey, protocolKey } from "./context.js";
import { procedureOf, protocolOf } from "./interceptors.js";

type HeaderValue = (name: string) => string | undefined;

const HEADERS: TextMapGetter<HeaderValue> = {
  keys: () => ["traceparent", "tracestate"],
  get: (header, key) => header(key),
};

/** Server-side codes that mean the server failed (OpenTelemetry's gRPC conventions); the rest are the caller's. */
const SERVER_FAULTS = new Set([Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DataLoss]);

export function tracingInterceptor(tracing: { tracer: Tracer; sampled: CallSampler; writes: WriteSpans }): Interceptor {
  const { sampled } = tracing;
  const propagator = new W3CTraceContextPropagator();
  // Not async: a call that is not sampled is handed on as it is, without a promise of this interceptor's.
  return (next) => (req) => {
    const header: HeaderValue = req.contextValues.get(headerValueKey) ?? ((name) => req.header.get(name) ?? undefined);
    const traceparent = header("traceparent");
    const remote = traceparent === undefined ? undefined : remoteParent(traceparent);
    // Not sampled: the call runs as if tracing were off (no span, and its work creates none).
    if (!sampled(remote)) return next(req);
    const parent = remote ? propagator.extract(ROOT_CONTEXT, header, HEADERS) : ROOT_CONTEXT;
    return traced(req, next, parent, tracing);
  };
}

/** A sampled call: its server span, active while it runs (and while its stream is read), ended with its code. */
async function traced(
  req: UnaryRequest | StreamRequest,
  next: (req: UnaryRequest | StreamRequest) => Promise<UnaryResponse | StreamResponse>,
  parent: Context,
  { tracer, writes }: { tracer: Tracer; writes: WriteSpans },
): Promise<UnaryResponse | StreamResponse> {
  const protocol = req.contextValues.get(protocolKey) || protocolOf(req.header.get("content-type") ?? "");
  const span = tracer.startSpan(
    procedureOf(req.method),
    {
      kind: SpanKind.SERVER,
      attributes: {
        "rpc.system.name": protocol === "connect" ? "connectrpc" : "grpc",
        "rpc.method": procedureOf(req.method),
        // Not in the current conventions (rpc.method names the service too), but what older backends group by.
        "rpc.service": req.method.parent.typeName,
        "policy.rpc.protocol": protocol,
      },
    },
    parent,
  );
  const call: TracedCall = { tracer, call: span.spanContext(), writes, spansLeft: MAX_SPANS_PER_CALL, spansDropped: 0 };
  const ctx = withTracedCall(parent, span, call);
  const finish = (error?: unknown) => {
    const scope = req.contextValues.get(callScopeKey);
    const type = scope?.target?.type;
    if (typeof type === "object") span.setAttribute("policy.resource.type", type.name);
    ended(span, call, error);
  };
  let res;
  try {
    res = await context.with(ctx, () => next(req));
  } catch (e) {
    finish(e);
    throw e;
  }
  if (!res.stream) {
    finish();
    return res;
  }
  return withMessage(res, tracedStream(res.message, ctx, call, finish) as StreamResponse["message"]);
}

/** Ends a call's span with its status code (and the child spans it could not record). */
function ended(span: Span, call: TracedCall, error: unknown): void {
  const code = error === undefined ? undefined : ConnectError.from(error).code;
  span.setAttribute("rpc.status_code", code === undefined ? "OK" : codeName(code));
  if (code !== undefined && SERVER_FAULTS.has(code)) span.setStatus({ code: SpanStatusCode.ERROR });
  if (call.spansDropped > 0) span.setAttribute("policy.trace.spans_dropped", call.spansDropped);
  span.end();
}

/**
 * A server stream whose messages are produced inside the call's context (the transport pulls them from outside it),
 * each with a fresh budget of child spans; the call's span ends with the stream.
 */
function tracedStream<T>(messages: AsyncIterable<T>, ctx: Context, call: TracedCall, finish: (error?: unknown) => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const inner = messages[Symbol.asyncIterator]();
      let done = false;
      const end = (error?: unknown) => {
        if (done) return;
        done = true;
        finish(error);
      };
      return {
        async next(): Promise<IteratorResult<T>> {
          call.spansLeft = MAX_SPANS_PER_CALL;
          try {
            const result = await context.with(ctx, () => inner.next());
            if (result.done) end();
            return result;
          } catch (e) {
            end(e);
            throw e;
          }
        },
        async return(): Promise<IteratorResult<T>> {
          // The client went away (or the transport stopped reading): the call ends as cancelled.
          end(new ConnectError("the stream was closed", Code.Canceled));
          await inner.return?.();
          return { done: true, value: undefined };
        },
      };
    },
  };
}
