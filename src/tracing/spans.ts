// Child spans for every layer, on @opentelemetry/api alone (no SDK, no I/O): the domain and the store import this, and
// nothing else of tracing. A traced call (rpc/tracing.ts) puts its tracer, its budget of spans and the server's
// registry of write spans in the active context; without one (tracing off, a call not sampled, work outside a call)
// every function here is one context lookup and creates nothing. No global tracer provider is involved, so several
// servers in one process (tests, benchmarks) each trace with their own.
import {
  context,
  createContextKey,
  ROOT_CONTEXT,
  trace,
  SpanStatusCode,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
  type Tracer,
} from "@opentelemetry/api";
import type { WriteSpans } from "./writes.js";

/** Child spans one call may create; past it they are left out (and counted on the call's span). */
export const MAX_SPANS_PER_CALL = 256;

/** What a sampled call hands down to the work it causes. */
export interface TracedCall {
  readonly tracer: Tracer;
  /** The call's server span: what the writes it makes are linked to. */
  readonly call: SpanContext;
  /** This server's write spans by change-log sequence (Watch deliveries link to them). */
  readonly writes: WriteSpans;
  /** Child spans it may still create. */
  spansLeft: number;
  /** Child spans left out because the budget was spent. */
  spansDropped: number;
}

const TRACED_CALL = createContextKey("policy traced call");

/** The sampled call the current code runs for, if any. */
export function tracedCall(): TracedCall | undefined {
  return context.active().getValue(TRACED_CALL) as TracedCall | undefined;
}

/** `ctx` with `span` active and `call` handed down. */
export function withTracedCall(ctx: Context, span: Span, call: TracedCall): Context {
  return trace.setSpan(ctx, span).setValue(TRACED_CALL, call);
}

/** A child span of the active one when the current call is traced (within its budget); undefined otherwise. */
export function childSpan(name: string, attributes?: Attributes, links?: Link[]): Span | undefined {
  const ctx = context.active();
  const call = ctx.getValue(TRACED_CALL) as TracedCall | undefined;
  if (!call) return undefined;
  if (call.spansLeft <= 0) {
    call.spansDropped++;
    return undefined;
  }
  call.spansLeft--;
  return call.tracer.startSpan(name, { attributes, links }, ctx);
}

/**
 * Runs `fn` outside any call's context: timers and shared work it starts (a poller, a batch of writes) are not
 * attributed to the call that happened to start them. Outside a context already, just `fn()`: entering one would
 * switch on AsyncLocalStorage, whose hooks (Node 20) every promise of the process then pays for.
 */
export function detached<T>(fn: () => T): T {
  return context.active() === ROOT_CONTEXT ? fn() : context.with(ROOT_CONTEXT, fn);
}

/** Runs `fn` with `span` as the active span (its children nest under it); just `fn()` without a span. */
export function within<T>(span: Span | undefined, fn: () => T): T {
  return span ? context.with(trace.setSpan(context.active(), span), fn) : fn();
}

/**
 * `work` in a child span named `name` (handed to it, to add what it finds), ended when the work settles; a failure
 * marks the span as an error without its message (messages may quote the request). Without a traced call:
 * `work(undefined)`.
 */
export function inChildSpan<T>(name: string, attributes: Attributes | undefined, work: (span: Span | undefined) => Promise<T>): Promise<T> {
  const span = childSpan(name, attributes);
  if (!span) return work(undefined);
  return within(span, () => work(span)).then(
    (value) => {
      span.end();
      return value;
    },
    (error: unknown) => {
      failed(span, error);
      span.end();
      throw error;
    },
  );
}

/** Marks `span` as failed with the error's class name only (never its message). */
export function failed(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR });
  span.setAttribute("error.type", error instanceof Error ? error.constructor.name : typeof error);
}
