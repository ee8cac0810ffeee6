// Starts the real server in this process on random loopback ports with a fresh database, and clients for it.
import { pino, type Logger } from "pino";
import { testDatabase } from "./postgres.js";
import { startServer, type RunningServer } from "../../src/server.js";
import type { Config } from "../../src/config.js";
import { apiClients, type ApiClients } from "./clients.js";
import { removeDir, tempDir } from "./temp-dir.js";

export interface TestServer extends RunningServer {
  /** A new folder for the database (or the test's own, `StartOptions.dir`); removed by `stop`. */
  dir: string;
  db: string;
  /** Connect protocol, JSON, over HTTP/1.1. */
  connect: ApiClients;
  /** gRPC over HTTP/2 cleartext. */
  grpc: ApiClients;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** The folder for the database (default: a new one). */
  dir?: string;
  /** Default: silent. */
  logger?: Logger;
}

/** Starts a server; `overrides` configure it (authentication, TLS, schema ...). */
export async function startTestServer(overrides: Partial<Config> = {}, options: StartOptions = {}): Promise<TestServer> {
  const dir = options.dir ?? tempDir();
  // A file in `dir`, or a fresh PostgreSQL database when the run is the PostgreSQL project's (POLICY_TEST_DB=postgres).
  const database = overrides.db === undefined ? await testDatabase(dir) : undefined;
  const db = overrides.db ?? database!.db;
  const server = await startServer(
    { host: "127.0.0.1", port: 0, grpcPort: 0, db, logLevel: "silent", ...overrides },
    options.logger ?? pino({ level: "silent" }),
  );
  return {
    ...server,
    dir,
    db,
    connect: apiClients(server.url, { protocol: "connect" }),
    grpc: apiClients(server.url, { protocol: "grpc" }),
    async stop() {
      await server.close();
      removeDir(dir);
      await database?.drop();
    },
  };
}
