// The OpenTelemetry SDK of one server, set up only when an OTLP endpoint is configured (server.ts is its one user):
// a tracer provider of its own (never registered globally, so servers in one process do not share one), the calls to
// trace chosen by OTEL_TRACES_SAMPLER (sampling.ts), and batched OTLP/HTTP (JSON) export. The only global it touches is the context manager
// (AsyncLocalStorage), which carries a call's span through its awaits.
import { context, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import { callSampler, type CallSampler } from "./sampling.js";
import type { TracingSettings } from "./settings.js";
import { WriteSpans } from "./writes.js";

/** A server's tracing: what its interceptor starts spans with, and what flushes them at shutdown. */
export interface Tracing {
  tracer: Tracer;
  /** Whether a call is traced (OTEL_TRACES_SAMPLER), decided before its span is made (sampling.ts). */
  sampled: CallSampler;
  writes: WriteSpans;
  /** Exports what is still buffered, then stops. */
  shutdown(): Promise<void>;
}

/** At shutdown, how long the last spans may take to export before the server stops without them. */
export const SHUTDOWN_FLUSH_MS = 3000;

/** An export that failed is logged at most this often. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

export function startTracing(settings: TracingSettings, warn: (message: string, fields: object) => void): Tracing {
  // Once per process; false (already set) is fine: another server of this process set the same kind.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const exporter = loggingFailures(new OTLPTraceExporter({ url: settings.endpoint }), warn);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName, [ATTR_SERVICE_VERSION]: settings.serviceVersion }),
    // Calls are sampled before their span is asked for (sampling.ts); a span asked for is one to record.
    sampler: new AlwaysOnSampler(),
    // OTEL_BSP_* (delay, batch and queue sizes) are read from the environment by the processor itself.
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  return {
    tracer: provider.getTracer("policy-service", settings.serviceVersion),
    sampled: callSampler(settings.sampler, settings.samplerRatio),
    writes: new WriteSpans(),
    shutdown: () => flushedWithin(provider.shutdown(), SHUTDOWN_FLUSH_MS),
  };
}

/** `flush`, or nothing after `ms` (an unreachable collector must not hold up a shutdown). */
function flushedWithin(flush: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([flush.catch(() => undefined), late]).finally(() => clearTimeout(timer));
}

/** `exporter`, telling the log when an export fails (at most once a minute): spans are dropped, never retried forever. */
function loggingFailures(exporter: SpanExporter, warn: (message: string, fields: object) => void): SpanExporter {
  let lastLogged = -Infinity;
  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      exporter.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS && performance.now() - lastLogged > FAILURE_LOG_INTERVAL_MS) {
          lastLogged = performance.now();
          warn("spans could not be exported to the OTLP endpoint; they are dropped", { spans: spans.length, error: result.error?.message });
        }
        done(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}
