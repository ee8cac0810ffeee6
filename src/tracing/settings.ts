// What tracing is configured with (config.ts reads it from flags and the standard OTEL_* variables). Kept apart from
// the SDK (sdk.ts) so that reading the configuration loads none of it.

/** The sampler names of OTEL_TRACES_SAMPLER that this server understands. */
export const SAMPLERS = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

export interface TracingSettings {
  /** Where spans are sent: the OTLP/HTTP traces URL (…/v1/traces). */
  endpoint: string;
  sampler: SamplerName;
  /** The ratio of the *traceidratio samplers, 0 to 1. */
  samplerRatio: number;
  serviceName: string;
  serviceVersion: string;
}

/** OTLP/HTTP's path for traces, appended to a base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT's rule). */
export const TRACES_PATH = "/v1/traces";

/** The traces URL of a base endpoint (`http://collector:4318` → `http://collector:4318/v1/traces`). */
export function tracesUrlOf(base: string): string {
  const trimmed = base.replace(/\/+$/, "");
  return trimmed.endsWith(TRACES_PATH) ? trimmed : `${trimmed}${TRACES_PATH}`;
}
