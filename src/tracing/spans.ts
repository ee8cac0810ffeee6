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
 * attributed to the call that happened to start them.
 */
export function detached<T>(fn: () => T): T {
  return context.with(ROOT_CONTEXT, fn);
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

/**
 * The span of each recent write by change-log sequence, in this process: a Watch delivery links to the write that
 * caused it. Bounded: the newest `capacity` writes (a delivery of an older change has no link).
 */
export class WriteSpans {
  private readonly bySeq = new Map<number, SpanContext>();

  constructor(private readonly capacity = 10_000) {}

  note(seq: number, span: SpanContext): void {
    this.bySeq.set(seq, span);
    if (this.bySeq.size > this.capacity) this.bySeq.delete(this.bySeq.keys().next().value!);
  }

  of(seq: number): SpanContext | undefined {
    return this.bySeq.get(seq);
  }
}

const TRACED_WRITE = createContextKey("policy traced write");

/**
 * One write of a traced call through a store's group commit: its span covers the wait for the batch, the batch's
 * transaction and its commit; the change-log rows it appends are noted for Watch once the commit succeeded (a batch
 * rolled back frees its sequences for other writes).
 */
export class TracedWrite {
  private sequences: number[] = [];
  private readonly ctx: Context;

  constructor(
    readonly span: Span,
    private readonly call: TracedCall,
  ) {
    this.ctx = context.active().setValue(TRACED_WRITE, this);
    this.ctx = trace.setSpan(this.ctx, span);
  }

  /** Runs the write's transaction work (again, for a retry: what an earlier attempt appended is forgotten). */
  run<T>(work: () => T): T {
    this.sequences = [];
    this.span.addEvent("transaction");
    return context.with(this.ctx, work);
  }

  noteChange(seq: number): void {
    this.sequences.push(seq);
  }

  /**
   * The batch committed: `writes` writes shared its commit. `applied`: this write's own work was kept (false: it
   * refused, e.g. a stale etag, and its savepoint was rolled back; the rows it appended were not kept).
   */
  committed(writes: number, applied: boolean): void {
    this.span.setAttribute("policy.commit.writes", writes);
    if (applied) for (const seq of this.sequences) this.call.writes.note(seq, this.call.call);
    else this.span.setAttribute("policy.commit.refused", true);
    this.span.end();
  }

  failed(error: unknown): void {
    failed(this.span, error);
    this.span.end();
  }
}

/** A traced write through a group commit, when the current call is traced. */
export function tracedWrite(name: string, attributes: Attributes): TracedWrite | undefined {
  const call = tracedCall();
  const span = call && childSpan(name, attributes);
  return span && new TracedWrite(span, call!);
}

/** Records that the current write appended change-log row `seq` (the stores call it as they append a row). */
export function noteChangeWritten(seq: number): void {
  (context.active().getValue(TRACED_WRITE) as TracedWrite | undefined)?.noteChange(seq);
}

/** A link to the call that wrote change-log row `seq`, when this process traced it. */
export function writeLinks(seq: number): Link[] | undefined {
  const span = tracedCall()?.writes.of(seq);
  return span && [{ context: span, attributes: { "policy.change.sequence": seq } }];
}
