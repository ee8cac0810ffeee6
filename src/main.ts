// `npm start`: runs the server until SIGTERM or SIGINT — in this process, or with --workers N in N worker processes
// (node:cluster) that share the ports and the SQLite file.
import cluster from "node:cluster";
import { pino } from "pino";
import { loadConfig, USAGE, type Config } from "./config.js";
import { startServer, type RunningServer } from "./server.js";
import { openStore } from "./store/open-store.js";

interface Listening {
  url: string;
  grpcPort: number;
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (config === "help") {
    console.log(USAGE);
    return;
  }
  if (config.workers > 0 && cluster.isPrimary) return supervise(config);
  // Asynchronous, batched writes: call lines gather into 4 KiB writes instead of one blocking write(2) each; the
  // buffer is flushed every second and when the process exits. docs/operations.md, "Logs".
  const logger = pino({ level: config.logLevel }, pino.destination({ sync: false, minLength: 4096 }));
  setInterval(() => logger.flush(), 1000).unref();
  let server: RunningServer;
  try {
    server = await startServer(config, logger);
  } catch (e) {
    logger.fatal({ err: e }, "could not start");
    console.error(`policy server: ${(e as Error).message}`);
    process.exit(1);
  }
  logger.info({ url: server.url, grpc: server.grpcAddress, db: config.db }, "listening");
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

function announce(config: Config, at: Listening): void {
  const workers = config.workers > 0 ? `; ${config.workers} workers` : "";
  console.log(`policy server listening on ${at.url} (database ${config.db}); gRPC port ${at.grpcPort}${workers}`);
}

/** The primary: applies migrations once, forks the workers, and stops them on a signal. */
async function supervise(config: Config): Promise<void> {
  await openStore({ db: config.db, cacheBytes: 0 }).close();
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
