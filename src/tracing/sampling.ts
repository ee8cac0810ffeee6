// Which calls are traced, decided before any span exists: OTEL_TRACES_SAMPLER's samplers, applied by the server-span
// interceptor itself. The SDK's tracer would decide the same, but only after generating a trace and a span id, which
// made an unsampled call cost about 2 µs (bench/tracing.ts); deciding first, a call that is not sampled creates
// nothing. The SDK's own sampler is then "always on": every span it is asked for is of a call already chosen.
import { INVALID_SPANID, INVALID_TRACEID, ROOT_CONTEXT, SamplingDecision, TraceFlags, type SpanContext } from "@opentelemetry/api";
import { TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base";
import type { SamplerName } from "./settings.js";

/** Whether a call with this remote parent (undefined: none, the call starts a trace) is traced. */
export type CallSampler = (parent: SpanContext | undefined) => boolean;

export function callSampler(sampler: SamplerName, ratio: number): CallSampler {
  const byRatio = ratioSampler(ratio);
  switch (sampler) {
    case "always_on":
      return () => true;
    case "always_off":
      return () => false;
    case "traceidratio":
      return byRatio;
    case "parentbased_always_on":
      return (parent) => (parent ? isSampled(parent) : true);
    case "parentbased_always_off":
      return (parent) => (parent ? isSampled(parent) : false);
    case "parentbased_traceidratio":
      return (parent) => (parent ? isSampled(parent) : byRatio(undefined));
  }
}

/**
 * The remote parent a W3C `traceparent` header names (`{version}-{trace id}-{parent id}-{flags}`, lowercase hex; a
 * later version may append fields), or undefined when it is malformed: the call then starts a trace, as the W3C
 * propagator does. Only what sampling needs, read by hand (a regular expression cost a microsecond here): the SDK's
 * propagator reads the whole context, `tracestate` too, of a call that is sampled.
 */
export function remoteParent(header: string): SpanContext | undefined {
  const value = header.length === 55 ? header : header.trim();
  if (value.length < 55 || value.charCodeAt(2) !== DASH || value.charCodeAt(35) !== DASH || value.charCodeAt(52) !== DASH) return undefined;
  const version = value.slice(0, 2);
  if (value.length > 55 && (version === "00" || value.charCodeAt(55) !== DASH)) return undefined;
  if (version === "ff" || !isHex(value, 0, 2) || !isHex(value, 3, 35) || !isHex(value, 36, 52) || !isHex(value, 53, 55)) return undefined;
  const traceId = value.slice(3, 35);
  const spanId = value.slice(36, 52);
  if (traceId === INVALID_TRACEID || spanId === INVALID_SPANID) return undefined;
  return { traceId, spanId, traceFlags: parseInt(value.slice(53, 55), 16), isRemote: true };
}

const DASH = 0x2d;

/** Whether value[from, to) is lowercase hex. */
function isHex(value: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

function isSampled(parent: SpanContext): boolean {
  return (parent.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
}

/**
 * TraceIdRatioBased: a continued trace by its trace id (the SDK's rule, so every service that samples by ratio agrees
 * on the same traces); a new trace by a random draw, which is what the ratio of a random new trace id amounts to.
 */
function ratioSampler(ratio: number): CallSampler {
  if (ratio <= 0) return () => false;
  if (ratio >= 1) return () => true;
  const byTraceId = new TraceIdRatioBasedSampler(ratio);
  return (parent) =>
    parent
      ? byTraceId.shouldSample(ROOT_CONTEXT, parent.traceId).decision !== SamplingDecision.NOT_RECORD
      : Math.random() < ratio;
}
