// Composition root: config -> store -> domain services -> routes -> the two transports.
import { createContextValues, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { pino, type Logger } from "pino";
import { ServerReflection as ReflectionV1 } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/health/v1/health_pb.js";
import { file_google_rpc_error_details } from "../gen/google/rpc/error_details_pb.js";
import { loadConfig, storeSettings, type Config } from "./config.js";
import { Access } from "./domain/access/access.js";
import { PageTokens } from "./domain/page-token.js";
import { Policies } from "./domain/policies.js";
import { DenyPolicies } from "./domain/deny-policies.js";
import { SharedPolicies } from "./domain/shared-policies.js";
import { Roles } from "./domain/roles.js";
import { Resources } from "./domain/resources.js";
import { Importer } from "./domain/import.js";
import { consoleFiles } from "./rpc/console-files.js";
import { createGrpcJsServer, listenGrpcJs, type GrpcJsListening } from "./rpc/grpc-js-server.js";
import { healthService, HealthStatus, watchStore } from "./rpc/health.js";
import { createMainServer, type MainServer, type TlsFiles } from "./rpc/http-server.js";
import { bothObservers, loggedConnections, peerOf, type ConnectionObserver } from "./rpc/connection-limits.js";
import { specEncodedGrpcMessages } from "./rpc/grpc-message.js";
import { undecodableIsInvalidArgument } from "./rpc/undecodable.js";
import { callInterceptor } from "./rpc/interceptors.js";
import { loopbackHostsOnly } from "./rpc/loopback-hosts.js";
import { peerCertificateKey, peerKey } from "./rpc/context.js";
import { authInterceptor } from "./rpc/auth/interceptor.js";
import { readAuditInterceptor } from "./rpc/read-audit.js";
import type { Authenticator } from "./rpc/auth/authenticator.js";
import { createAuthentication } from "./rpc/auth/setup.js";
import { Authorizer } from "./domain/access/authorizer.js";
import { Lookups } from "./domain/access/lookups.js";
import { Audit } from "./domain/audit.js";
import { ChangeFeed, DEFAULT_READ_BYTES } from "./domain/change-feed.js";
import { pruneChangeLog } from "./domain/retention.js";
import { Sync } from "./domain/sync.js";
import { Watch } from "./domain/watch.js";
import { Snapshots } from "./domain/snapshot.js";
import { WatchStreams } from "./domain/watch-streams.js";
import { WatchVisibility } from "./domain/watch-visibility.js";
import type { TLSSocket } from "node:tls";
import { Metrics, type ConsumerLag } from "./rpc/metrics.js";
import { reflectionServices } from "./rpc/reflection.js";
import { API_SERVICES } from "./api-services.js";
import { routes, type ServiceRegistry, type Services } from "./rpc/routes.js";
import type { ResourceSchema } from "./schema/schema.js";
import { loadSchema } from "./schema-file.js";
import { openStore } from "./store/open-store.js";
import { oldestSequence, type Store, type StoredConsumer } from "./store/store.js";
import { cliVersion } from "./cli/version.js";
import type { Tracing } from "./tracing/sdk.js";

/** Largest request message accepted; larger ones fail with RESOURCE_EXHAUSTED. */
export const READ_MAX_BYTES = 4 * 1024 * 1024;

/** How often the change log is pruned, when a retention is configured. */
export const PRUNE_INTERVAL_MS = 60_000;

/** How long in-flight calls may take to finish at shutdown before their connections are closed. */
export const SHUTDOWN_GRACE_MS = 10_000;


export interface RunningServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  /** e.g. 127.0.0.1:50051, for grpc-js clients */
  grpcAddress: string;
  grpcPort: number;
  health: HealthStatus;
  /** e.g. http://127.0.0.1:9090/metrics, with --metrics-port */
  metricsUrl?: string;
  /** Drains: NOT_SERVING, stop accepting, let in-flight calls finish, close the store (WAL checkpointed). */
  close(): Promise<void>;
}

/** GET /metrics (unless `metrics` is undefined: served elsewhere): Prometheus text; anything else: 404. */
type NodeHandlerFn = NonNullable<Parameters<typeof connectNodeAdapter>[0]["fallback"]>;

function metricsEndpoint(metrics: Metrics | undefined): NodeHandlerFn {
  return (req, res) => {
    if (metrics && req.method === "GET" && req.url?.split("?")[0] === "/metrics") {
      void metrics.exposition().then(
        (text) => {
          res.writeHead(200, { "content-type": metrics.contentType });
          res.end(text);
        },
        // A figure that could not be collected fails this scrape, never the process.
        () => {
          res.writeHead(503, { "content-type": "text/plain" });
          res.end("metrics unavailable: a figure could not be collected; scrape again\n");
        },
      );
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found: RPCs are POST /{package}.{Service}/{Method}; metrics are GET /metrics\n");
  };
}

/** Starts the server; options not given take their defaults (not the environment's). */
export async function startServer(options: Partial<Config>, logger?: Logger): Promise<RunningServer> {
  const config: Config = { ...(loadConfig([], {}) as Config), ...options };
  logger ??= pino({ level: config.logLevel });
  const schema = loadSchema(config.schema);
  const { authenticator, admins } = await createAuthentication(config, logger);
  const tracing = await startTracingIfConfigured(config, logger);
  const store = await openStore({
    db: config.db,
    cacheBytes: config.cacheMb * 1024 * 1024,
    traced: tracing !== undefined,
    ...storeSettings(config),
  });
  const feed = new ChangeFeed(store, {
    windowBytes: config.watchWindowMb * 1024 * 1024,
    // A turn's changes reach a stream at once: at most half its buffer (or one change), so a reader that keeps up is never cut off.
    readBytes: Math.min(DEFAULT_READ_BYTES, (config.watchStreamBufferKb * 1024) / 2),
  });
  const watchStreams = new WatchStreams({
    maxStreams: config.watchStreams,
    maxStreamsPerCaller: config.watchStreamsPerCaller,
    streamBufferBytes: config.watchStreamBufferKb * 1024,
  });
  const services = await domainServices(store, feed, watchStreams, schema, admins, authenticator.enabled, logger);
  const stopPruning = pruneChangeLogPeriodically(store, config, logger);
  const health = new HealthStatus();
  const { register, exposed } = servedServices(services, health);
  const metrics = new Metrics({
    writtenSequence: () => store.writtenSequence,
    storeStats: () => store.stats(),
    consumerLags: () => consumerLags(store),
    consumerNames: config.metricsConsumerNames,
    watch: () => ({ open: watchStreams.open, cutOff: watchStreams.cutOff, windowBytes: feed.held.bytes }),
  });
  const interceptors = [
    ...(tracing ? [tracing.interceptor] : []),
    ...callInterceptors(logger, metrics, () => store.writtenSequence, authenticator, services, schema),
  ];
  const tls = readTlsFiles(config);

  const metricsServer = await listenForMetrics(metrics, config);
  const handler = mainPortHandler(register, interceptors, schema, metricsServer ? undefined : metrics);
  // Development mode (unless --insecure opened it to the network on purpose): no DNS rebinding.
  const served = authenticator.enabled || config.insecure ? handler : loopbackHostsOnly(handler);
  const connections = (port: "main" | "grpc"): ConnectionObserver =>
    bothObservers(metrics.connections(port), loggedConnections(logger.child({ port })));
  const main = createMainServer(served, tls, SHUTDOWN_GRACE_MS, config, connections("main"));
  await listenOnMainPort(main, config);
  const grpcConnections = connections("grpc");
  const grpcServer = createGrpcJsServer(register, {
    interceptors,
    readMaxBytes: READ_MAX_BYTES,
    unexpected: (err) => logger.error({ err }, "unexpected error"),
    limits: config,
    observer: grpcConnections,
  });
  const grpcListening = await listenOnGrpcPort(grpcServer, config, tls, grpcConnections);
  const grpcPort = grpcListening.port;
  health.setAll(exposed, HealthCheckResponse_ServingStatus.SERVING);
  // NOT_SERVING while the database cannot be reached, SERVING again when it can (PostgreSQL restarts, outages).
  const storeWatch = watchStore(store, (ok) =>
    health.setAll(exposed, ok ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.NOT_SERVING),
  );

  const host = urlHost(config.host);
  const port = (main.server.address() as AddressInfo).port;
  return {
    url: `${tls ? "https" : "http"}://${host}:${port}`,
    metricsUrl: metricsServer && `http://${urlHost(config.metricsHost)}:${(metricsServer.address() as AddressInfo).port}/metrics`,
    port,
    grpcAddress: `${host}:${grpcPort}`,
    grpcPort,
    health,
    close: () => drainAndClose({ health, exposed, main, grpcServer, grpcListening, metricsServer, store, feed, stopPruning, storeWatch, tracing }),
  };
}

/**
 * With an OTLP endpoint: the tracer and the server-span interceptor (rpc/tracing.ts). Loaded only then, so that a
 * server without tracing loads none of the SDK.
 */
async function startTracingIfConfigured(config: Config, logger: Logger): Promise<(Tracing & { interceptor: Interceptor }) | undefined> {
  if (!config.otlpEndpoint) return undefined;
  const [{ startTracing }, { tracingInterceptor }] = await Promise.all([import("./tracing/sdk.js"), import("./rpc/tracing.js")]);
  const tracing = startTracing(
    {
      endpoint: config.otlpEndpoint,
      sampler: config.tracesSampler,
      samplerRatio: config.tracesSamplerRatio,
      serviceName: config.serviceName,
      serviceVersion: cliVersion(),
    },
    (message, fields) => logger.warn(fields, message),
  );
  logger.info({ endpoint: config.otlpEndpoint, sampler: config.tracesSampler, ratio: config.tracesSamplerRatio }, "tracing: spans sent over OTLP/HTTP");
  return { ...tracing, interceptor: tracingInterceptor(tracing) };
}

/** The domain services over `store`, and the authorizer every call goes through. */
async function domainServices(
  store: Store,
  feed: ChangeFeed,
  watchStreams: WatchStreams,
  schema: ResourceSchema,
  admins: ReadonlySet<string>,
  authenticated: boolean,
  logger: Logger,
): Promise<Services> {
  const pageTokens = new PageTokens(await store.pageTokenKey());
  const access = new Access(store, schema);
  const authorizer = new Authorizer(access, schema, admins, authenticated);
  const sync = new Sync(store, schema, authorizer);
  const policies = new Policies(store, schema, pageTokens, sync, (resource, cause) =>
    logger.error({ resource, cause }, "a stored policy does not decode (damaged data): listings leave it out; restore it from a backup"),
  );
  const resources = new Resources(store, schema, pageTokens);
  return {
    policies,
    resources,
    importer: new Importer(store, schema, resources, policies),
    access,
    lookups: new Lookups(store, schema, pageTokens),
    audit: new Audit(store, schema, pageTokens),
    authorizer,
    watch: new Watch(feed, new WatchVisibility(store, access, authorizer), schema, watchStreams),
    snapshots: new Snapshots(store, schema, authorizer),
    sync,
    denyPolicies: new DenyPolicies(store, schema),
    roles: new Roles(store, schema, pageTokens),
    sharedPolicies: new SharedPolicies(store, schema, pageTokens, authorizer),
  };
}

/** With --change-retention: prunes the change log now and every PRUNE_INTERVAL_MS; returns what stops it. */
function pruneChangeLogPeriodically(store: Store, config: Config, logger: Logger): () => void {
  const retention = config.changeRetention;
  if (!retention) return () => undefined;
  const prune = () =>
    pruneChangeLog(store, retention).then(
      (removed) => removed > 0 && logger.info({ removed }, "change log pruned"),
      (err: unknown) => logger.warn({ err }, "change log pruning failed; retrying later"),
    );
  void prune();
  const timer = setInterval(prune, PRUNE_INTERVAL_MS).unref();
  return () => clearInterval(timer);
}

/**
 * Each consumer's lag: changes after its acknowledged sequence, and the age of the oldest of them. Three reads however
 * many consumers there are: the oldest change each has not acknowledged is the retained row after its sequence (the
 * log has no gaps, so that is a row's sequence, or the oldest row's when retention pruned past it).
 */
async function consumerLags(store: Store): Promise<ConsumerLag[]> {
  // Every consumer: those written after version 0.
  const [{ changed: consumers }, latest, oldest] = await Promise.all([
    store.consumerChanges(0),
    store.latestSequence(),
    oldestSequence(store),
  ]);
  const firstUnacknowledged = (c: StoredConsumer) => Math.max(c.acknowledgedSeq + 1, oldest);
  const behind = consumers.filter((c) => c.acknowledgedSeq < latest);
  const rows = await store.readChanges({ at: [...new Set(behind.map(firstUnacknowledged))] });
  const timeOf = new Map(rows.map((row) => [row.seq, row.timeMs]));
  const now = Date.now();
  return consumers.map((c) => {
    const time = c.acknowledgedSeq < latest ? timeOf.get(firstUnacknowledged(c)) : undefined;
    return {
      consumer: c.name,
      sequences: Math.max(0, latest - c.acknowledgedSeq),
      seconds: time === undefined ? 0 : Math.max(0, now - time) / 1000,
    };
  });
}

/** In this order on both ports: log and measure every call, authenticate and authorize it, audit its reads. */
function callInterceptors(
  logger: Logger,
  metrics: Metrics,
  writtenSequence: () => number,
  authenticator: Authenticator,
  services: Services,
  schema: ResourceSchema,
): Interceptor[] {
  return [
    callInterceptor({ logger, metrics, writtenSequence }),
    authInterceptor(authenticator, services.authorizer, schema),
    readAuditInterceptor(services.access, logger),
  ];
}

/** Registers the API, health and reflection on a router (either port's); `exposed` names what they serve. */
function servedServices(services: Services, health: HealthStatus): { register: (router: ServiceRegistry) => void; exposed: string[] } {
  const served = [...API_SERVICES, Health, ReflectionV1, ReflectionV1alpha];
  const exposed = served.map((s) => s.typeName);
  // google/rpc/error_details.proto too, so that reflection clients can decode error details.
  const reflection = reflectionServices([...served.map((s) => s.file), file_google_rpc_error_details], exposed);
  const register = (router: ServiceRegistry) => {
    routes(services)(router);
    router.service(Health, healthService(health));
    router.service(ReflectionV1, reflection.v1);
    router.service(ReflectionV1alpha, reflection.v1alpha);
  };
  return { register, exposed };
}

/** The certificate and key to serve TLS with (and the CA of client certificates); undefined: cleartext. */
function readTlsFiles(config: Config): TlsFiles | undefined {
  if (!config.tlsCert || !config.tlsKey) return undefined;
  return {
    cert: readFileSync(config.tlsCert),
    key: readFileSync(config.tlsKey),
    ca: config.tlsClientCa ? readFileSync(config.tlsClientCa) : undefined,
  };
}

/** With --metrics-port: a listener of its own for GET /metrics (then not served on the main port). */
async function listenForMetrics(metrics: Metrics, config: Config): Promise<http.Server | undefined> {
  if (config.metricsPort === undefined) return undefined;
  const server = http.createServer(metricsEndpoint(metrics));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.metricsPort, config.metricsHost, () => resolve());
  });
  return server;
}

/** The connect-node handler of the main port: every protocol, the caller's address and certificate, the console, /metrics. */
function mainPortHandler(
  register: (router: ServiceRegistry) => void,
  interceptors: Interceptor[],
  schema: ResourceSchema,
  metrics: Metrics | undefined,
) {
  return specEncodedGrpcMessages(connectNodeAdapter({
    routes: (router) => {
      register(router);
      undecodableIsInvalidArgument(router);
    },
    interceptors,
    readMaxBytes: READ_MAX_BYTES,
    // A misspelt JSON field is an error, not silently dropped (connect-es ignores unknown fields by default).
    jsonOptions: { ignoreUnknownFields: false },
    contextValues: (req) => {
      const values = createContextValues().set(peerKey, peerOf(req.socket));
      const socket = req.socket as TLSSocket;
      if (socket.authorized) values.set(peerCertificateKey, socket.getPeerCertificate());
      return values;
    },
    // GET / and /console/: the web console; then /metrics.
    fallback: consoleFiles(schema, metricsEndpoint(metrics)),
  }));
}

function listenOnMainPort(main: MainServer, config: Config): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    main.server.once("error", reject);
    main.server.listen(config.port, config.host, () => resolve());
  });
}

/** Listens on the gRPC port (connection limits of its own), with the main port's TLS files (client certificates verified when a CA is given). */
function listenOnGrpcPort(
  grpcServer: grpc.Server,
  config: Config,
  tls: TlsFiles | undefined,
  observer: ConnectionObserver,
): Promise<GrpcJsListening> {
  const credentials = tls
    ? grpc.ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], tls.ca !== undefined)
    : grpc.ServerCredentials.createInsecure();
  return listenGrpcJs(grpcServer, credentials, config.host, config.grpcPort, config, observer);
}

/** An IPv6 host in brackets, as URLs and grpc-js addresses want it. */
function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

interface Running {
  health: HealthStatus;
  exposed: string[];
  main: MainServer;
  grpcServer: grpc.Server;
  grpcListening: GrpcJsListening;
  metricsServer: http.Server | undefined;
  store: Store;
  feed: ChangeFeed;
  stopPruning: () => void;
  storeWatch: { stop(): void };
  tracing: Tracing | undefined;
}

/** NOT_SERVING first, so balancers move away; then both ports drain (forced after the grace time); the store last. */
async function drainAndClose(running: Running): Promise<void> {
  const { health, exposed, main, grpcServer, grpcListening, metricsServer, store, feed, stopPruning, storeWatch, tracing } = running;
  storeWatch.stop();
  health.setAll(exposed, HealthCheckResponse_ServingStatus.NOT_SERVING);
  stopPruning();
  // Watch streams never finish by themselves: end them (UNAVAILABLE, with where to resume) so the drain can.
  feed.close();
  grpcListening.listener.close();
  const grpcDrained = new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve()));
  const force = setTimeout(() => grpcServer.forceShutdown(), SHUTDOWN_GRACE_MS);
  const metricsClosed = new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
  metricsServer?.closeAllConnections();
  await Promise.all([main.close(), grpcDrained, metricsClosed]);
  clearTimeout(force);
  await store.close();
  // The spans of the last calls are exported before the process ends.
  await tracing?.shutdown();
}
