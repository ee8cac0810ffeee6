// The writes of traced calls, for Watch: each write's group commit as a span, and the change-log rows it appended
// remembered (in this process, for the newest writes) so that a Watch delivery of the change links to the call that
// wrote it. The stores call noteChangeWritten as they append a row; domain/watch.ts asks writeLinks.
import { context, createContextKey, trace, type Attributes, type Context, type Link, type Span, type SpanContext } from "@opentelemetry/api";
import { childSpan, failed, tracedCall, type TracedCall } from "./spans.js";

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
