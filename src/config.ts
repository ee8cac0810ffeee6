// Server configuration from flags, then environment variables, then defaults.
import { parseArgs } from "node:util";
import { DEFAULT_CACHE_MB } from "./store/caching-store.js";
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "./rpc/connection-limits.js";
import { parseDb } from "./store/db-url.js";
import { DEFAULT_WINDOW_BYTES } from "./domain/change-feed.js";
import { DEFAULT_WATCH_LIMITS } from "./domain/watch-streams.js";
import { DEFAULT_POOL_SIZE, DEFAULT_STATEMENT_TIMEOUT_MS, SQLITE_BATCH_ROWS, type StoreOptions } from "./store/open-store.js";

import type { RetentionPolicy as Retention } from "./domain/retention.js";
import { SAMPLERS, tracesUrlOf, type SamplerName } from "./tracing/settings.js";

export interface Config extends ConnectionLimits {
  host: string;
  port: number;
  /** The dedicated gRPC port (grpc-js). */
  grpcPort: number;
  db: string;
  /** A schema YAML file; undefined: the built-in default schema. */
  schema?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** A PEM CA bundle: clients may (main port) or must (gRPC port) present a certificate it signed. */
  tlsClientCa?: string;
  /** A JWKS JSON file of the keys that sign bearer tokens. */
  jwks?: string;
  /** PEM public key files (SPKI) that sign bearer tokens. */
  jwtPublicKeys: string[];
  jwtIssuer?: string;
  jwtAudience?: string;
  jwtGroupsClaim: string;
  /** Bootstrap administrators: principals that may do everything. */
  admins: string[];
  /** Allow a non-loopback address without authentication. */
  insecure: boolean;
  logLevel: string;
  /** Worker processes sharing the ports and the database (0: this process serves). */
  workers: number;
  /** Memory budget of the read cache of decoded policies, in MiB (per process). */
  cacheMb: number;
  /** How much of the change log (the audit log and Watch's history) to keep; undefined: everything. */
  changeRetention?: Retention;
  /** A listener of its own for GET /metrics (then not on the main port); undefined: /metrics on the main port. */
  metricsPort?: number;
  /** The address of the metrics listener. */
  metricsHost: string;
  /** Sync consumers' names on the metrics (tenant data): only with a metrics listener of its own. */
  metricsConsumerNames: boolean;
  /** Bytes of recent changes Watch keeps in memory for the streams that keep up, in MiB. */
  watchWindowMb: number;
  /** Bytes one Watch stream may leave unsent before it is cut off, in KiB. */
  watchStreamBufferKb: number;
  /** Watch streams open at once in one process. */
  watchStreams: number;
  /** Watch streams open at once by one principal. */
  watchStreamsPerCaller: number;
  /** PostgreSQL: connections per process. */
  dbPool: number;
  /** PostgreSQL: the longest a statement may run, in milliseconds. */
  dbStatementTimeoutMs: number;
  /** SQLite: rows one group-commit transaction may change before it takes no more writes (it blocks the event loop); 0: no budget. */
  sqliteBatchRows: number;
  /** OpenTelemetry: the OTLP/HTTP traces URL spans are sent to; undefined: tracing off. */
  otlpEndpoint?: string;
  /** OpenTelemetry: which calls are traced (OTEL_TRACES_SAMPLER). */
  tracesSampler: SamplerName;
  /** OpenTelemetry: the ratio of the *traceidratio samplers (OTEL_TRACES_SAMPLER_ARG). */
  tracesSamplerRatio: number;
  /** OpenTelemetry: service.name of the spans (OTEL_SERVICE_NAME). */
  serviceName: string;
}

const OPTIONS = {
  host: { env: "POLICY_HOST", default: "127.0.0.1", help: "address to listen on" },
  port: { env: "POLICY_PORT", default: "8080", help: "main port: gRPC, gRPC-Web and Connect (0: any free port)" },
  "grpc-port": { env: "POLICY_GRPC_PORT", default: "50051", help: "gRPC-only port (grpc-js), fastest for services" },
  db: { env: "POLICY_DB", default: "./data/policy.db", help: "SQLite database file (created if missing), or a postgres:// URL" },
  "db-pool": { env: "POLICY_DB_POOL", default: String(DEFAULT_POOL_SIZE), help: "PostgreSQL: connections per process" },
  "sqlite-batch-rows": { env: "POLICY_SQLITE_BATCH_ROWS", default: String(SQLITE_BATCH_ROWS), help: "SQLite: one group commit also stops taking writes once it has changed this many rows, the rest commit next (0: no row budget; a group commit is bounded by 8 ms of work either way)" },
  "db-statement-timeout-ms": { env: "POLICY_DB_STATEMENT_TIMEOUT_MS", default: String(DEFAULT_STATEMENT_TIMEOUT_MS), help: "PostgreSQL: longest a statement may run, or a connection be waited for (ms); no answer at all: given up 1 s later" },
  schema: { env: "POLICY_SCHEMA", default: undefined, help: "resource schema YAML file (default: built in)" },
  "tls-cert": { env: "POLICY_TLS_CERT", default: undefined, help: "PEM certificate: serve TLS (ALPN h2, http/1.1)" },
  "tls-key": { env: "POLICY_TLS_KEY", default: undefined, help: "PEM private key of --tls-cert" },
  "tls-client-ca": { env: "POLICY_TLS_CLIENT_CA", default: undefined, help: "PEM CA of client certificates (mTLS)" },
  jwks: { env: "POLICY_JWKS", default: undefined, help: "JWKS JSON file: keys that sign bearer tokens" },
  "jwt-public-keys": { env: "POLICY_JWT_PUBLIC_KEYS", default: undefined, help: "comma-separated PEM public key files" },
  "jwt-issuer": { env: "POLICY_JWT_ISSUER", default: undefined, help: "required `iss` of bearer tokens" },
  "jwt-audience": { env: "POLICY_JWT_AUDIENCE", default: undefined, help: "required `aud` of bearer tokens" },
  "jwt-groups-claim": { env: "POLICY_JWT_GROUPS_CLAIM", default: "groups", help: "token claim listing the caller's groups" },
  admins: { env: "POLICY_ADMINS", default: undefined, help: "comma-separated bootstrap administrators, e.g. user:root@example.com" },
  insecure: { env: "POLICY_INSECURE", default: undefined, help: "flag (or 1): allow a non-loopback --host without authentication" },
  workers: { env: "POLICY_WORKERS", default: "0", help: "worker processes sharing the ports (0: one process)" },
  "cache-mb": { env: "POLICY_CACHE_MB", default: String(DEFAULT_CACHE_MB), help: "memory for cached decoded policies, per process (0: none)" },
  "change-retention": {
    env: "POLICY_CHANGE_RETENTION",
    default: undefined,
    help: "change log (audit log, Watch history) kept: an age (30d, 12h) or a row count (1000000); default all",
  },
  "metrics-port": { env: "POLICY_METRICS_PORT", default: undefined, help: "serve GET /metrics on this port only, not the main port" },
  "metrics-host": { env: "POLICY_METRICS_HOST", default: "127.0.0.1", help: "address of the --metrics-port listener" },
  "metrics-consumer-names": {
    env: "POLICY_METRICS_CONSUMER_NAMES",
    default: undefined,
    help: "flag (or 1): each sync consumer's lag by name on /metrics (needs --metrics-port; default: aggregates only)",
  },
  "max-connections": {
    env: "POLICY_MAX_CONNECTIONS",
    default: String(DEFAULT_CONNECTION_LIMITS.maxConnections),
    help: "open connections per port; more are closed on accept",
  },
  "max-connections-per-address": {
    env: "POLICY_MAX_CONNECTIONS_PER_ADDRESS",
    default: String(DEFAULT_CONNECTION_LIMITS.maxConnectionsPerAddress),
    help: "open connections per port from one client address (IPv6: one /64); more are closed on accept",
  },
  "headers-timeout-ms": {
    env: "POLICY_HEADERS_TIMEOUT_MS",
    default: String(DEFAULT_CONNECTION_LIMITS.headersTimeoutMs),
    help: "a new connection's request head (HTTP/1.1 headers, HTTP/2 preface) must arrive within this",
  },
  "request-timeout-ms": {
    env: "POLICY_REQUEST_TIMEOUT_MS",
    default: String(DEFAULT_CONNECTION_LIMITS.requestTimeoutMs),
    help: "a request's body must arrive within this of its head",
  },
  "idle-timeout-ms": {
    env: "POLICY_IDLE_TIMEOUT_MS",
    default: String(DEFAULT_CONNECTION_LIMITS.idleTimeoutMs),
    help: "a connection with no request in progress is closed after this",
  },
  "max-connection-age-ms": {
    env: "POLICY_MAX_CONNECTION_AGE_MS",
    default: String(DEFAULT_CONNECTION_LIMITS.maxConnectionAgeMs),
    help: "a connection this old (±10%) takes no new request (GOAWAY, Connection: close)",
  },
  "max-connection-age-grace-ms": {
    env: "POLICY_MAX_CONNECTION_AGE_GRACE_MS",
    default: String(DEFAULT_CONNECTION_LIMITS.maxConnectionAgeGraceMs),
    help: "then its calls in progress (Watch streams too) have this long before it is closed",
  },
  "watch-window-mb": {
    env: "POLICY_WATCH_WINDOW_MB",
    default: String(DEFAULT_WINDOW_BYTES / 1024 / 1024),
    help: "memory for the recent changes kept for Watch streams, in MiB (estimated per change: 1.5 KiB + 3 × its encoded size); a stream behind them reads the database",
  },
  "watch-stream-buffer-kb": {
    env: "POLICY_WATCH_STREAM_BUFFER_KB",
    default: String(DEFAULT_WATCH_LIMITS.streamBufferBytes / 1024),
    help: "unsent bytes one Watch stream may hold, in KiB; a reader that falls further behind is cut off (RESOURCE_EXHAUSTED)",
  },
  "watch-streams": {
    env: "POLICY_WATCH_STREAMS",
    default: String(DEFAULT_WATCH_LIMITS.maxStreams),
    help: "Watch streams open at once per process; more are refused (RESOURCE_EXHAUSTED)",
  },
  "watch-streams-per-caller": {
    env: "POLICY_WATCH_STREAMS_PER_CALLER",
    default: String(DEFAULT_WATCH_LIMITS.maxStreamsPerCaller),
    help: "Watch streams open at once by one principal; more are refused (RESOURCE_EXHAUSTED)",
  },
  "log-level": { env: "POLICY_LOG_LEVEL", default: "info", help: "fatal, error, warn, info, debug, trace or silent" },
  "otlp-endpoint": {
    env: "OTEL_EXPORTER_OTLP_ENDPOINT",
    default: undefined,
    help: "OpenTelemetry tracing: OTLP/HTTP collector, e.g. http://127.0.0.1:4318 (/v1/traces appended); default: tracing off",
  },
  "traces-sampler": {
    env: "OTEL_TRACES_SAMPLER",
    default: "parentbased_always_on",
    help: `which calls are traced: ${SAMPLERS.join(", ")}`,
  },
  "traces-sampler-arg": { env: "OTEL_TRACES_SAMPLER_ARG", default: "1", help: "the ratio (0 to 1) of the traceidratio samplers" },
  "service-name": { env: "OTEL_SERVICE_NAME", default: "policy-service", help: "service.name of the spans" },
} as const;

const NAME_WIDTH = Math.max(...Object.keys(OPTIONS).map((name) => name.length));
const ENV_WIDTH = Math.max(...Object.values(OPTIONS).map((o) => o.env.length));

export const USAGE = [
  "usage: npm start -- [options]   (each option also reads the environment variable shown)",
  ...Object.entries(OPTIONS).map(
    ([name, o]) =>
      `  --${name.padEnd(NAME_WIDTH)}  ${o.env.padEnd(ENV_WIDTH)}  ${o.help}${o.default ? ` (default ${o.default})` : ""}`,
  ),
].join("\n");

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(Object.keys(OPTIONS).map((name) => [name, { type: "string" as const }])),
      insecure: { type: "boolean" },
      "metrics-consumer-names": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return "help";
  const get = (name: keyof typeof OPTIONS): string | undefined =>
    ((values as Record<string, unknown>)[name] as string | undefined) ?? env[OPTIONS[name].env] ?? OPTIONS[name].default;
  const config: Config = {
    host: get("host")!,
    port: portNumber("port", get("port")!),
    grpcPort: portNumber("grpc-port", get("grpc-port")!),
    db: get("db")!,
    schema: get("schema"),
    tlsCert: get("tls-cert"),
    tlsKey: get("tls-key"),
    tlsClientCa: get("tls-client-ca"),
    jwks: get("jwks"),
    jwtPublicKeys: list(get("jwt-public-keys")),
    jwtIssuer: get("jwt-issuer"),
    jwtAudience: get("jwt-audience"),
    jwtGroupsClaim: get("jwt-groups-claim")!,
    admins: list(get("admins")),
    insecure: values.insecure === true || isOn(env.POLICY_INSECURE),
    logLevel: get("log-level")!,
    workers: Number(get("workers")),
    cacheMb: Number(get("cache-mb")),
    changeRetention: retention(get("change-retention")),
    metricsPort: get("metrics-port") === undefined ? undefined : portNumber("metrics-port", get("metrics-port")!),
    metricsHost: get("metrics-host")!,
    metricsConsumerNames: values["metrics-consumer-names"] === true || isOn(env.POLICY_METRICS_CONSUMER_NAMES),
    maxConnections: Number(get("max-connections")),
    maxConnectionsPerAddress: Number(get("max-connections-per-address")),
    headersTimeoutMs: Number(get("headers-timeout-ms")),
    requestTimeoutMs: Number(get("request-timeout-ms")),
    idleTimeoutMs: Number(get("idle-timeout-ms")),
    maxConnectionAgeMs: Number(get("max-connection-age-ms")),
    maxConnectionAgeGraceMs: Number(get("max-connection-age-grace-ms")),
    watchWindowMb: Number(get("watch-window-mb")),
    watchStreamBufferKb: Number(get("watch-stream-buffer-kb")),
    watchStreams: Number(get("watch-streams")),
    watchStreamsPerCaller: Number(get("watch-streams-per-caller")),
    dbPool: Number(get("db-pool")),
    dbStatementTimeoutMs: Number(get("db-statement-timeout-ms")),
    sqliteBatchRows: Number(get("sqlite-batch-rows")),
    otlpEndpoint: otlpEndpoint((values as Record<string, unknown>)["otlp-endpoint"] as string | undefined, env),
    tracesSampler: sampler(get("traces-sampler")!),
    tracesSamplerRatio: ratio(get("traces-sampler-arg")!),
    serviceName: get("service-name")!,
  };
  parseDb(config.db);
  if (!Number.isInteger(config.dbPool) || config.dbPool < 1) throw new Error(`--db-pool: "${get("db-pool")}" is not a count`);
  if (!Number.isInteger(config.dbStatementTimeoutMs) || config.dbStatementTimeoutMs < 1) {
    throw new Error(`--db-statement-timeout-ms: "${get("db-statement-timeout-ms")}" is not a duration in ms`);
  }
  if (!Number.isInteger(config.sqliteBatchRows) || config.sqliteBatchRows < 0) {
    throw new Error(`--sqlite-batch-rows: "${get("sqlite-batch-rows")}" is not a count`);
  }
  const positive = [
    "max-connections",
    "max-connections-per-address",
    "headers-timeout-ms",
    "request-timeout-ms",
    "idle-timeout-ms",
    "max-connection-age-ms",
    "max-connection-age-grace-ms",
    "watch-window-mb",
    "watch-stream-buffer-kb",
    "watch-streams",
    "watch-streams-per-caller",
  ] as const;
  for (const flag of positive) {
    const value = Number(get(flag));
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${flag}: "${get(flag)}" is not a positive whole number`);
  }
  if (config.metricsConsumerNames && config.metricsPort === undefined) {
    throw new Error("--metrics-consumer-names needs --metrics-port: consumer names are tenants' data, not for the main port");
  }
  if (config.tlsClientCa && !config.tlsCert) throw new Error("--tls-client-ca needs --tls-cert and --tls-key");
  if (!Number.isInteger(config.workers) || config.workers < 0) throw new Error(`--workers: "${get("workers")}" is not a count`);
  if (!Number.isFinite(config.cacheMb) || config.cacheMb < 0) throw new Error(`--cache-mb: "${get("cache-mb")}" is not a size in MiB`);
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new Error("--tls-cert and --tls-key go together: give both or neither");
  }
  return config;
}

/**
 * The traces URL: --otlp-endpoint (a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT), else OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
 * (used as given), else OTEL_EXPORTER_OTLP_ENDPOINT; none, or OTEL_SDK_DISABLED=true: undefined (tracing off).
 */
function otlpEndpoint(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return undefined;
  const url = flag ? tracesUrlOf(flag) : env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || (env.OTEL_EXPORTER_OTLP_ENDPOINT && tracesUrlOf(env.OTEL_EXPORTER_OTLP_ENDPOINT));
  if (!url) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
    throw new Error(`--otlp-endpoint: "${url}" is not an http:// or https:// URL (OTLP/HTTP, e.g. http://127.0.0.1:4318)`);
  }
  return url;
}

function sampler(value: string): SamplerName {
  const name = value.trim().toLowerCase();
  if (!(SAMPLERS as readonly string[]).includes(name)) {
    throw new Error(`--traces-sampler (OTEL_TRACES_SAMPLER): "${value}" is not one of ${SAMPLERS.join(", ")}`);
  }
  return name as SamplerName;
}

function ratio(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new Error(`--traces-sampler-arg (OTEL_TRACES_SAMPLER_ARG): "${value}" is not a ratio from 0 to 1`);
  }
  return n;
}

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

/** `30d`, `12h`, `90m`, `3600s`: an age; a plain integer: a row count. */
function retention(value: string | undefined): Retention | undefined {
  if (value === undefined || value === "") return undefined;
  const match = /^(\d+)([dhms])?$/.exec(value.trim());
  if (!match) throw new Error(`--change-retention: "${value}" is neither an age (30d, 12h, 90m, 3600s) nor a row count`);
  const n = Number(match[1]);
  return match[2] ? { maxAgeMs: n * UNIT_MS[match[2]]! } : { keepLast: n };
}

/** A boolean environment variable: 1, true or yes. */
function isOn(value: string | undefined): boolean {
  return ["1", "true", "yes"].includes(value ?? "");
}

function list(value: string | undefined): string[] {
  return (value ?? "").split(",").map((v) => v.trim()).filter(Boolean);
}

function portNumber(flag: string, value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--${flag}: "${value}" is not a port number`);
  return port;
}

/** The store settings of a configuration, as openStore takes them. */
export function storeSettings(
  config: Pick<Config, "dbPool" | "dbStatementTimeoutMs" | "sqliteBatchRows">,
): Pick<StoreOptions, "poolSize" | "statementTimeoutMs" | "sqliteBatchRows"> {
  return { poolSize: config.dbPool, statementTimeoutMs: config.dbStatementTimeoutMs, sqliteBatchRows: config.sqliteBatchRows };
}
