// `npm start`: runs the server until SIGTERM or SIGINT — in this process, or with --workers N in N worker processes
// (node:cluster) that share the ports and the SQLite file.
import cluster from "node:cluster";
import { pino } from "pino";
import { loadConfig, storeSettings, USAGE, type Config } from "./config.js";
import { startServer, type RunningServer } from "./server.js";
import { openStore } from "./store/open-store.js";
import { redactedDb } from "./store/db-url.js";

interface Listening {
  url: string;
  grpcPort: number;
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (e) {
    console.error(`policy server: ${(e as Error).message} (\`--help\` lists the options)`);
    process.exit(2);
  }
  if (config === "help") {
    console.log(USAGE);
    return;
  }
  if (config.workers > 0 && cluster.isPrimary) return supervise(config);
  // Asynchronous, batched writes: call lines gather into 4 KiB writes instead of one blocking write(2) each; the
  // buffer is flushed every second and when the process exits. docs/operations.md, "Logs".
  const destination = pino.destination({ sync: false, minLength: 4096 });
  const logger = pino({ level: config.logLevel }, destination);
  // The destination's own flush, without a callback: pino's logger.flush() hands it one, which waits for a 'drain'
  // that never comes while lines keep arriving, so a listener pair piled up every second under sustained load.
  setInterval(() => destination.flush(), 1000).unref();
  let server: RunningServer;
  try {
    server = await startServer(config, logger);
  } catch (e) {
    // A configuration problem (a port in use, a missing file) is one line for a person; the stack only when asked.
    logger.debug({ err: e }, "could not start");
    console.error(`policy server: ${startupProblem(e as Error, config)}`);
    process.exit(1);
  }
  logger.info({ url: server.url, grpc: server.grpcAddress, db: redactedDb(config.db) }, "listening");
  if (cluster.isWorker) process.send!({ url: server.url, grpcPort: server.grpcPort } satisfies Listening);
  else announce(config, { url: server.url, grpcPort: server.grpcPort });
  const stop = async (signal: string) => {
    logger.info({ signal }, "shutting down");
    await server.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

/** Why the server could not start, naming the flag behind it when a port is in use or needs privileges. */
function startupProblem(error: Error, config: Config): string {
  const message = error.message.split("\n")[0]!;
  const { code, path } = error as NodeJS.ErrnoException;
  if (code === "ENOENT" && path) {
    const files: [string, string | undefined][] = [["--schema", config.schema], ["--tls-cert", config.tlsCert],
      ["--tls-key", config.tlsKey], ["--tls-client-ca", config.tlsClientCa], ["--jwks", config.jwks]];
    const flag = files.find(([, value]) => value === path)?.[0] ?? (config.jwtPublicKeys.includes(path) ? "--jwt-public-keys" : undefined);
    return `${flag ? `${flag} ` : ""}${path}: no such file`;
  }
  const denied = /EADDRINUSE|EACCES/.exec(message);
  if (!denied) return message;
  // node's listen errors carry the port; grpc-js only names the address in its message.
  const port = (error as { port?: number }).port ?? Number(/:(\d+)\]?\s*$/.exec(message)?.[1]);
  const flags: [string, number | undefined][] = [["--port", config.port], ["--grpc-port", config.grpcPort], ["--metrics-port", config.metricsPort]];
  const flag = flags.find(([, value]) => value === port)?.[0];
  const what = flag ? `${flag} ${port}` : `port ${port}`;
  return denied[0] === "EADDRINUSE"
    ? `${what} is in use: stop what listens there, or choose another port (0 picks a free one)`
    : `${what} needs privileges this process lacks: choose a port above 1023`;
}

function announce(config: Config, at: Listening): void {
  const workers = config.workers > 0 ? `; ${config.workers} workers` : "";
  console.log(`policy server listening on ${at.url} (database ${redactedDb(config.db)}); gRPC port ${at.grpcPort}${workers}`);
}

/** The primary: applies migrations once, forks the workers, and stops them on a signal. */
async function supervise(config: Config): Promise<void> {
  await (await openStore({ db: config.db, cacheBytes: 0, ...storeSettings(config) })).close();
  let announced = false;
  let stopping = false;
  for (let i = 0; i < config.workers; i++) {
    const worker = cluster.fork();
    worker.on("message", (at: Listening) => {
      if (!announced) announce(config, at);
      announced = true;
    });
  }
  cluster.on("exit", (worker, code) => {
    if (!stopping) {
      console.error(`policy server: worker ${worker.process.pid} exited with ${code}; stopping`);
      void stop(1);
    } else if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  });
  const stop = async (code: number) => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill("SIGTERM");
    if (code !== 0) setTimeout(() => process.exit(code), 15_000).unref();
  };
  process.once("SIGTERM", () => void stop(0));
  process.once("SIGINT", () => void stop(0));
}

void main();
