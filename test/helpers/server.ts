// Starts the real server on a random loopback port with a fresh database, and clients for it.
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { PolicyService } from "../../gen/policy/v1/policy_service_pb.js";
import { ResourceService } from "../../gen/policy/v1/resource_service_pb.js";
import { startServer, type RunningServer } from "../../src/server.js";
import type { Config } from "../../src/config.js";

export interface TestServer extends RunningServer {
  dir: string;
  db: string;
  /** Connect protocol, JSON, over HTTP/1.1. */
  connect: Clients;
  /** gRPC over HTTP/2 cleartext. */
  grpc: Clients;
  stop(): Promise<void>;
}

export interface Clients {
  policies: Client<typeof PolicyService>;
  resources: Client<typeof ResourceService>;
}

export function clientsFor(url: string, protocol: "connect" | "grpc"): Clients {
  const transport =
    protocol === "grpc"
      ? createGrpcTransport({ baseUrl: url })
      : createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: false });
  return {
    policies: createClient(PolicyService, transport),
    resources: createClient(ResourceService, transport),
  };
}

export async function startTestServer(overrides: Partial<Config> = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "policy-test-"));
  const db = join(dir, "policy.db");
  const server = await startServer(
    { host: "127.0.0.1", port: 0, grpcPort: 0, db, logLevel: "silent", ...overrides },
    pino({ level: "silent" }),
  );
  return {
    ...server,
    dir,
    db,
    connect: clientsFor(server.url, "connect"),
    grpc: clientsFor(server.url, "grpc"),
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
