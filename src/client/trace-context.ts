// W3C trace context for every call the SDK makes: the caller's active OpenTelemetry context is injected as
// `traceparent` (and `tracestate`), so the server's spans join the caller's trace. Through @opentelemetry/api's
// global propagator: an application that set up the OpenTelemetry SDK (which registers the W3C propagator) gets it;
// one that did not pays a no-op.
import type { Interceptor } from "@connectrpc/connect";
import { context, propagation, type TextMapSetter } from "@opentelemetry/api";

const HEADERS: TextMapSetter<Headers> = {
  set: (headers, key, value) => headers.set(key, value),
};

/** Injects the active trace context into each request's headers (gRPC metadata, Connect headers). */
export function traceContext(): Interceptor {
  return (next) => (req) => {
    propagation.inject(context.active(), req.header, HEADERS);
    return next(req);
  };
}
