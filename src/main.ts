// `npm start`: runs the server until SIGTERM or SIGINT.
import { pino } from "pino";
import { loadConfig, USAGE } from "./config.js";
import { startServer } from "./server.js";

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
  const logger = pino({ level: config.logLevel });
  let server;
  try {
    server = await startServer(config, logger);
  } catch (e) {
    logger.fatal({ err: e }, "could not start");
    console.error(`policy server: ${(e as Error).message}`);
    process.exit(1);
  }
  logger.info({ url: server.url, grpc: server.grpcAddress, db: config.db }, "listening");
  console.log(`policy server listening on ${server.url} (database ${config.db}); gRPC port ${server.grpcPort}`);
  const stop = async (signal: string) => {
    logger.info({ signal }, "shutting down");
    await server.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

void main();
