// Prometheus metrics, served as text on GET /metrics: calls and latency by procedure and code, store size, the
// change-log sequence, the database pool and statement latency, and Node's process metrics.
import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { StoreStats } from "../store/store.js";
import type { ConnectionObserver } from "./connection-limits.js";

export interface MetricsSources {
  writtenSequence: () => number;
  storeStats: () => Promise<StoreStats>;
  /** Each sync consumer's lag (SyncService). */
  consumerLags?: () => Promise<ConsumerLag[]>;
  /**
   * Each consumer's lag under its name. Consumer names are tenants' data, and /metrics needs no credentials: by
   * default only the worst lag and the number of consumers are shown (docs/security.md, "Open endpoints").
   */
  consumerNames?: boolean;
  /** Watch: streams open, streams cut off for falling behind, and the bytes of the feed's window. */
  watch?: () => { open: number; cutOff: number; windowBytes: number };
}

/** How far a sync consumer is behind: changes it has not acknowledged, and the age of the oldest of them. */
export interface ConsumerLag {
  consumer: string;
  sequences: number;
  seconds: number;
}

export class Metrics {
  readonly registry = new Registry();
  /** Each (procedure, protocol) pair's calls and latency, bound once (see callSeries). */
  private readonly series = new Map<string, CallSeries>();

  private readonly storeFailures = new Counter({
    name: "policy_store_failures_total",
    help: "Calls failed by the database: kind exhausted (disk full) or unavailable (locked, unreachable).",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });

  private readonly openConnections = new Gauge({
    name: "policy_open_connections",
    help: "Open connections, by port (main or grpc); capped by --max-connections.",
    labelNames: ["port"] as const,
    registers: [this.registry],
  });
  private readonly refusedConnections = new Counter({
    name: "policy_refused_connections_total",
    help: "Connections closed on accept, by port and limit: connections (--max-connections) or per-address (--max-connections-per-address).",
    labelNames: ["port", "limit"] as const,
    registers: [this.registry],
  });
  private readonly timedOutConnections = new Counter({
    name: "policy_timed_out_connections_total",
    help: "Connections or streams closed by a time-out, by port and phase (headers, request, idle, age).",
    labelNames: ["port", "phase"] as const,
    registers: [this.registry],
  });

  /** What the connection limits of `port` report. */
  connections(port: "main" | "grpc"): ConnectionObserver {
    const open = this.openConnections.labels(port);
    const refused = { connections: this.refusedConnections.labels(port, "connections"), "per-address": this.refusedConnections.labels(port, "per-address") };
    open.set(0);
    refused.connections.inc(0);
    refused["per-address"].inc(0);
    return {
      opened: () => open.inc(),
      closed: () => open.dec(),
      refused: (limit) => refused[limit].inc(),
      timedOut: (phase) => this.timedOutConnections.labels(port, phase).inc(),
    };
  }

  constructor(sources: MetricsSources) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: "policy_store_bytes",
      help: "Size of the database on disk (SQLite: the file and its write-ahead log).",
      registers: [this.registry],
      async collect() {
        this.set((await sources.storeStats()).sizeBytes ?? 0);
      },
    });
    new Gauge({
      name: "policy_change_log_sequence",
      help: "The newest change-log sequence this server has written.",
      registers: [this.registry],
      collect() {
        this.set(sources.writtenSequence());
      },
    });
    if (sources.consumerLags) consumerLagMetrics(this.registry, sources.consumerLags, sources.consumerNames === true);
    new Gauge({
      name: "policy_cache_entries",
      help: "Resources whose decoded policy is held in the read cache.",
      registers: [this.registry],
      async collect() {
        this.set((await sources.storeStats()).cacheEntries ?? 0);
      },
    });
    new Gauge({
      name: "policy_cache_bytes",
      help: "Estimated heap taken by the read cache (bounded by --cache-mb).",
      registers: [this.registry],
      async collect() {
        this.set((await sources.storeStats()).cacheBytes ?? 0);
      },
    });
    storeServerMetrics(this.registry, sources.storeStats);
    if (sources.watch) watchMetrics(this.registry, sources.watch);
  }

  /** The Prometheus text of every metric (what GET /metrics serves), in `contentType`. */
  async exposition(): Promise<string> {
    return Registry.merge([this.registry, callFamilies(this.series)]).metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  observeStoreFailure(kind: string): void {
    this.storeFailures.labels(kind).inc();
  }

  /**
   * The series of one procedure on one protocol. The call interceptor binds it once per method and protocol:
   * recording a call is then a few additions, with no label object or label hash per call (prom-client's bound
   * labels still validate and hash the label set on every observation).
   */
  callSeries(procedure: string, protocol: string): CallSeries {
    const key = `${procedure} ${protocol}`;
    let series = this.series.get(key);
    if (!series) {
      series = new CallSeries(procedure, protocol);
      this.series.set(key, series);
    }
    return series;
  }
}

/** Watch's figures: each bounded by a flag (--watch-streams, --watch-stream-buffer-kb, --watch-window-mb). */
function watchMetrics(registry: Registry, watch: NonNullable<MetricsSources["watch"]>): void {
  new Gauge({
    name: "policy_watch_streams",
    help: "Watch streams open (bounded by --watch-streams and --watch-streams-per-caller).",
    registers: [registry],
    collect() {
      this.set(watch().open);
    },
  });
  new Counter({
    name: "policy_watch_streams_cut_off_total",
    help: "Watch streams ended with RESOURCE_EXHAUSTED because their reader left more than --watch-stream-buffer-kb unsent.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(watch().cutOff);
    },
  });
  new Gauge({
    name: "policy_watch_window_bytes",
    help: "Memory of the recent changes Watch keeps, estimated per change from its encoded size (bounded by --watch-window-mb).",
    registers: [registry],
    collect() {
      this.set(watch().windowBytes);
    },
  });
}

/**
 * How far sync consumers are behind: a consumer that stops acknowledging shows as a growing lag, not as silence. By
 * default the worst lag and the number of consumers; with `byName`, each consumer's lag under its name as well.
 */
function consumerLagMetrics(registry: Registry, lags: () => Promise<ConsumerLag[]>, byName: boolean): void {
  // One read serves every gauge of a scrape: the registry starts their collect() together, before it settles. The
  // database unavailable: the totals keep the last scrape's values and there are no per-consumer series in this
  // scrape (policy_store_failures_total says why), rather than no scrape at all.
  let scrape: Promise<ConsumerLag[] | undefined> | undefined;
  const current = () =>
    (scrape ??= lags()
      .catch(() => undefined)
      .finally(() => {
        scrape = undefined;
      }));
  const worst = (all: ConsumerLag[], of: (lag: ConsumerLag) => number) => all.reduce((max, lag) => Math.max(max, of(lag)), 0);
  const total = (name: string, help: string, of: (all: ConsumerLag[]) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const all = await current();
        if (all) this.set(of(all));
      },
    });
  total("policy_consumers", "Sync consumers configured, in every organization.", (all) => all.length);
  total(
    "policy_consumer_lag_max_seconds",
    "Age of the oldest change some sync consumer has not acknowledged (the worst consumer; 0 when all are current).",
    (all) => worst(all, (lag) => lag.seconds),
  );
  total(
    "policy_consumer_lag_max_sequences",
    "Changes committed after the acknowledged sequence of the sync consumer furthest behind.",
    (all) => worst(all, (lag) => lag.sequences),
  );
  if (!byName) return;
  const named = (name: string, help: string, of: (lag: ConsumerLag) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["consumer"] as const,
      registers: [registry],
      async collect() {
        const all = await current();
        this.reset();
        for (const lag of all ?? []) this.set({ consumer: lag.consumer }, of(lag));
      },
    });
  named("policy_consumer_lag_seconds", "Age of the oldest change a sync consumer has not acknowledged (0 when it is current).", (lag) => lag.seconds);
  named("policy_consumer_lag_sequences", "Changes committed after a sync consumer's acknowledged sequence.", (lag) => lag.sequences);
}

/**
 * A server database's pool and statement latency (PostgreSQL; absent from SQLite's stats, so they stay 0): the pool's
 * connections by state and its waiters, and statements with their total time, whose rates' ratio is the mean latency.
 */
function storeServerMetrics(registry: Registry, storeStats: () => Promise<StoreStats>): void {
  new Gauge({
    name: "policy_store_pool_connections",
    help: "Database connections of this process by state (busy, idle), and the pool's bound (max).",
    labelNames: ["state"] as const,
    registers: [registry],
    async collect() {
      const pool = (await storeStats()).pool;
      this.set({ state: "busy" }, pool ? pool.open - pool.idle : 0);
      this.set({ state: "idle" }, pool?.idle ?? 0);
      this.set({ state: "max" }, pool?.max ?? 0);
    },
  });
  new Gauge({
    name: "policy_store_pool_waiting",
    help: "Requests waiting for a database connection.",
    registers: [registry],
    async collect() {
      this.set((await storeStats()).pool?.waiting ?? 0);
    },
  });
  new Counter({
    name: "policy_store_queries_total",
    help: "Statements sent to the database.",
    registers: [registry],
    async collect() {
      this.reset();
      this.inc((await storeStats()).queries?.count ?? 0);
    },
  });
  new Counter({
    name: "policy_store_query_seconds_total",
    help: "Time spent on database statements (rate over policy_store_queries_total's rate: mean latency).",
    registers: [registry],
    async collect() {
      this.reset();
      this.inc((await storeStats()).queries?.seconds ?? 0);
    },
  });
}

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** Calls and latency of one procedure on one protocol: plain numbers, read by the registry at scrape time. */
export class CallSeries {
  readonly labels: { procedure: string; protocol: string };
  /** Calls by status code name; OK is counted apart, it is nearly every call. */
  ok = 0;
  readonly failed = new Map<string, number>();
  /** Observations per bucket (not cumulative), then the sum and count of the seconds observed. */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length);
  sum = 0;
  count = 0;

  constructor(procedure: string, protocol: string) {
    this.labels = { procedure, protocol };
  }

  observe(code: string, seconds: number): void {
    if (code === "OK") this.ok++;
    else this.failed.set(code, (this.failed.get(code) ?? 0) + 1);
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    if (i < LATENCY_BUCKETS.length) this.buckets[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

// The two call families, handed to prom-client at scrape time in its documented JSON form (what
// `Registry.getMetricsAsJSON()` returns and `AggregatorRegistry.aggregate()` takes: public API), so that it formats
// them as it formats its own counters and histograms. prom-client's Counter and Histogram would do it from their own
// observations, but observing through them costs every call ~1 µs (label validation and hashing, measured on this
// machine) where a CallSeries costs a few additions, and a Histogram takes no pre-counted buckets.
interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface Family {
  name: string;
  help: string;
  type: "counter" | "histogram";
  aggregator: "sum";
  values: Sample[];
}

/** A registry of the call families as they are now (made per scrape). */
function callFamilies(series: ReadonlyMap<string, CallSeries>): Registry {
  return AggregatorRegistry.aggregate([[callCounter(series), latencyHistogram(series)]]);
}

function callCounter(series: ReadonlyMap<string, CallSeries>): Family {
  return {
    name: "policy_rpc_calls_total",
    help: "RPCs handled, by procedure, protocol and status code.",
    type: "counter",
    aggregator: "sum",
    values: [...series.values()].flatMap((s) => [
      ...(s.ok > 0 ? [{ labels: { ...s.labels, code: "OK" }, value: s.ok }] : []),
      ...[...s.failed].map(([code, value]) => ({ labels: { ...s.labels, code }, value })),
    ]),
  };
}

function latencyHistogram(series: ReadonlyMap<string, CallSeries>): Family {
  const name = "policy_rpc_duration_seconds";
  return {
    name,
    help: "RPC handling time, by procedure and protocol.",
    type: "histogram",
    aggregator: "sum",
    values: [...series.values()].flatMap((s) => {
      let cumulative = 0;
      return [
        ...LATENCY_BUCKETS.map((le, i) => ({ labels: { ...s.labels, le }, value: (cumulative += s.buckets[i]!), metricName: `${name}_bucket` })),
        { labels: { ...s.labels, le: "+Inf" }, value: s.count, metricName: `${name}_bucket` },
        { labels: s.labels, value: s.sum, metricName: `${name}_sum` },
        { labels: s.labels, value: s.count, metricName: `${name}_count` },
      ];
    }),
  };
}
