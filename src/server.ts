// Composition root: config -> store -> domain services -> routes -> the two transports.
import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { pino, type Logger } from "pino";
import { ServerReflection as ReflectionV1 } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/health/v1/health_pb.js";
import { file_google_rpc_error_details } from "../gen/google/rpc/error_details_pb.js";
import { loadConfig, type Config } from "./config.js";
import { Access } from "./domain/access/access.js";
import { PageTokens } from "./domain/page-token.js";
import { Policies } from "./domain/policies.js";
import { Resources } from "./domain/resources.js";
import { parseSchema } from "./domain/schema/schema-loader.js";
import type { ResourceSchema } from "./domain/schema/schema.js";
import { createGrpcJsServer, listenGrpcJs } from "./rpc/grpc-js-server.js";
import { healthService, HealthStatus } from "./rpc/health.js";
import { createMainServer } from "./rpc/http-server.js";
import { specEncodedGrpcMessages } from "./rpc/grpc-message.js";
import { undecodableIsInvalidArgument } from "./rpc/undecodable.js";
import { callInterceptor } from "./rpc/interceptors.js";
import { peerCertificateKey, peerKey } from "./rpc/context.js";
import { authInterceptor } from "./rpc/auth/interceptor.js";
import { readAuditInterceptor } from "./rpc/read-audit.js";
import { createAuthentication } from "./rpc/auth/setup.js";
import { Authorizer } from "./domain/access/authorizer.js";
import { Audit } from "./domain/audit.js";
import type { TLSSocket } from "node:tls";
import { Metrics } from "./rpc/metrics.js";
import { reflectionServices } from "./rpc/reflection.js";
import { API_SERVICES, routes, type ServiceRegistry } from "./rpc/routes.js";
import { openStore } from "./store/open-store.js";

export const DEFAULT_SCHEMA_FILE = new URL("../schema/default.yaml", import.meta.url);

/** Largest request message accepted; larger ones fail with RESOURCE_EXHAUSTED. */
export const READ_MAX_BYTES = 4 * 1024 * 1024;

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
  /** Drains: NOT_SERVING, stop accepting, let in-flight calls finish, close the store (WAL checkpointed). */
  close(): Promise<void>;
}

function peerOf(socket: { remoteAddress?: string; remotePort?: number }): string {
  return `${socket.remoteAddress ?? ""}:${socket.remotePort ?? ""}`;
}

/** GET /metrics: Prometheus text; anything else that is not an RPC: 404. */
type NodeHandlerFn = NonNullable<Parameters<typeof connectNodeAdapter>[0]["fallback"]>;

function metricsEndpoint(metrics: Metrics): NodeHandlerFn {
  return (req, res) => {
    if (req.method === "GET" && req.url?.split("?")[0] === "/metrics") {
      void metrics.registry.metrics().then((text) => {
        res.writeHead(200, { "content-type": metrics.registry.contentType });
        res.end(text);
      });
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found: RPCs are POST /{package}.{Service}/{Method}; metrics are GET /metrics\n");
  };
}

export function loadSchema(file: string | undefined): ResourceSchema {
  const path = file ?? DEFAULT_SCHEMA_FILE;
  return parseSchema(readFileSync(path, "utf8"), String(file ?? "default.yaml"));
}

/** Starts the server; options not given take their defaults (not the environment's). */
export async function startServer(options: Partial<Config>, logger?: Logger): Promise<RunningServer> {
  const config: Config = { ...(loadConfig([], {}) as Config), ...options };
  logger ??= pino({ level: config.logLevel });
  const schema = loadSchema(config.schema);
  const { authenticator, admins } = await createAuthentication(config, logger);
  const store = openStore({ db: config.db, cacheBytes: config.cacheMb * 1024 * 1024 });
  const pageTokens = new PageTokens(await store.pageTokenKey());
  const access = new Access(store, schema);
  const authorizer = new Authorizer(access, schema, admins, authenticator.enabled);
  const services = {
    policies: new Policies(store, schema, pageTokens),
    resources: new Resources(store, schema, pageTokens),
    access,
    audit: new Audit(store, schema, pageTokens),
    authorizer,
  };
  const health = new HealthStatus();
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
  const metrics = new Metrics({
    writtenSequence: () => store.writtenSequence,
    storeStats: () => store.stats(),
  });
  const interceptors = [
    callInterceptor({ logger, metrics, writtenSequence: () => store.writtenSequence }),
    authInterceptor(authenticator, authorizer, schema),
    readAuditInterceptor(access, logger),
  ];
  const tls = config.tlsCert && config.tlsKey
    ? {
        cert: readFileSync(config.tlsCert),
        key: readFileSync(config.tlsKey),
        ca: config.tlsClientCa ? readFileSync(config.tlsClientCa) : undefined,
      }
    : undefined;

  const handler = specEncodedGrpcMessages(connectNodeAdapter({
    routes: (router) => {
      register(router);
      undecodableIsInvalidArgument(router);
    },
    interceptors,
    readMaxBytes: READ_MAX_BYTES,
    contextValues: (req) => {
      const values = createContextValues().set(peerKey, peerOf(req.socket));
      const socket = req.socket as TLSSocket;
      if (socket.authorized) values.set(peerCertificateKey, socket.getPeerCertificate());
      return values;
    },
    fallback: metricsEndpoint(metrics),
  }));
  const main = createMainServer(handler, tls, SHUTDOWN_GRACE_MS, config, metrics.connections("main"));
  await new Promise<void>((resolve, reject) => {
    main.server.once("error", reject);
    main.server.listen(config.port, config.host, () => resolve());
  });
  const grpcServer = createGrpcJsServer(register, {
    interceptors,
    readMaxBytes: READ_MAX_BYTES,
    unexpected: (err) => logger.error({ err }, "unexpected error"),
    limits: config,
  });
  const credentials = tls
    ? grpc.ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], tls.ca !== undefined)
    : grpc.ServerCredentials.createInsecure();
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const grpcListening = await listenGrpcJs(grpcServer, credentials, config.host, config.grpcPort, config, metrics.connections("grpc"));
  const grpcPort = grpcListening.port;
  health.setAll(exposed, HealthCheckResponse_ServingStatus.SERVING);

  const port = (main.server.address() as AddressInfo).port;
  return {
    url: `${tls ? "https" : "http"}://${host}:${port}`,
    port,
    grpcAddress: `${host}:${grpcPort}`,
    grpcPort,
    health,
    async close() {
      health.setAll(exposed, HealthCheckResponse_ServingStatus.NOT_SERVING);
      grpcListening.listener.close();
      const grpcDrained = new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve()));
      const force = setTimeout(() => grpcServer.forceShutdown(), SHUTDOWN_GRACE_MS);
      await Promise.all([main.close(), grpcDrained]);
      clearTimeout(force);
      await store.close();
    },
  };
}
