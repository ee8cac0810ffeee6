// Composition root: config -> store -> domain services -> routes -> HTTP server.
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { pino, type Logger } from "pino";
import type { Config } from "./config.js";
import { Access } from "./domain/access/access.js";
import { Policies } from "./domain/policies.js";
import { Resources } from "./domain/resources.js";
import { PageTokens } from "./domain/page-token.js";
import { parseSchema } from "./domain/schema/schema-loader.js";
import type { ResourceSchema } from "./domain/schema/schema.js";
import { createMainServer } from "./rpc/http-server.js";
import { callInterceptor } from "./rpc/interceptors.js";
import { routes } from "./rpc/routes.js";
import { SqliteStore } from "./store/sqlite/sqlite-store.js";

export const DEFAULT_SCHEMA_FILE = new URL("../schema/default.yaml", import.meta.url);

/** Largest request message accepted; larger ones fail with RESOURCE_EXHAUSTED. */
export const READ_MAX_BYTES = 4 * 1024 * 1024;

/** How often the access index looks for writes made by other processes sharing the database. */
export const ACCESS_POLL_MS = 1000;

export interface RunningServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  close(): Promise<void>;
}

export function loadSchema(file: string | undefined): ResourceSchema {
  const path = file ?? DEFAULT_SCHEMA_FILE;
  return parseSchema(readFileSync(path, "utf8"), String(file ?? "default.yaml"));
}

export async function startServer(config: Config, logger: Logger = pino({ level: config.logLevel })): Promise<RunningServer> {
  const schema = loadSchema(config.schema);
  const store = new SqliteStore(config.db);
  const pageTokens = new PageTokens(await store.pageTokenKey());
  const services = {
    policies: new Policies(store, schema, pageTokens),
    resources: new Resources(store, schema, pageTokens),
    access: await Access.open(store, schema, ACCESS_POLL_MS),
  };
  const handler = connectNodeAdapter({
    routes: routes(services),
    interceptors: [callInterceptor(logger, () => store.writtenSequence)],
    readMaxBytes: READ_MAX_BYTES,
  });
  const tls = config.tlsCert && config.tlsKey
    ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) }
    : undefined;
  const main = createMainServer(handler, tls);
  await new Promise<void>((resolve, reject) => {
    main.server.once("error", reject);
    main.server.listen(config.port, config.host, () => resolve());
  });
  const port = (main.server.address() as AddressInfo).port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `${tls ? "https" : "http"}://${host}:${port}`;
  return {
    url,
    port,
    async close() {
      await main.close();
      services.access.close();
      await store.close();
    },
  };
}
