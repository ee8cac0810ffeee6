// createPolicyClient: typed connect-es clients for every service of the policy API over one transport.
import type { Client, Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { API, apiClients, type ApiClients } from "../api-services.js";
import { traceContext } from "./trace-context.js";

export type PolicyProtocol = "grpc" | "connect";

export interface PolicyClientOptions {
  /** The server's URL, e.g. `http://127.0.0.1:8080` or `https://policy.example.com`. */
  baseUrl: string;
  /** `grpc` (HTTP/2, the default) or `connect` (the Connect protocol, binary, over HTTP/1.1). */
  protocol?: PolicyProtocol;
  /** A bearer token, sent as `authorization: Bearer {token}` on every call. */
  token?: string;
  /**
   * TLS options for an `https` server: `ca`, the PEM certificate(s) to trust instead of the system's; `cert` and
   * `key`, a PEM client certificate and its private key, for a server that authenticates clients by certificate.
   * Bytes are `Uint8Array` (a Node.js `Buffer` is one), so that the SDK's types need no `@types/node`.
   */
  tls?: { ca?: string | Uint8Array; cert?: string | Uint8Array; key?: string | Uint8Array };
  /** More interceptors, run after the token one. */
  interceptors?: Interceptor[];
  /** A deadline applied to every call without its own `timeoutMs`. */
  defaultTimeoutMs?: number;
  /**
   * A transport made elsewhere (gRPC-Web, the Connect protocol with JSON, an in-memory router): the clients use it
   * as it is, so every option above but `baseUrl` is then the transport's own business and is ignored.
   */
  transport?: Transport;
}

/** A client of every service of the API (api-services.ts), by its name there. */
export interface PolicyClient extends ApiClients {
  /** The audit log: every write, who made it and when. */
  audit: Client<typeof API.audit>;
  /** The raw Watch stream; `watch()` (watch.ts) follows it across disconnects. */
  watch: Client<typeof API.watch>;
  /** A subtree's state as of one sequence; `createPolicyMirror()` (mirror.ts) starts from it and follows Watch. */
  snapshots: Client<typeof API.snapshots>;
  /** Sync consumers and sync status; `runConsumer()` (consumer.ts) is a consumer's loop. */
  sync: Client<typeof API.sync>;
  /** Shared policies (AIP-2511) and their bindings to resources. */
  sharedPolicies: Client<typeof API.sharedPolicies>;
  /** The transport the clients share, to create clients of other services on the same connection. */
  transport: Transport;
  /** Closes the HTTP/2 connection (gRPC); a no-op for the Connect protocol. Calls made afterwards reconnect. */
  close(): void;
}

/** Adds `authorization: Bearer {token}` to every request. */
export function bearerToken(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

export function createPolicyClient(options: PolicyClientOptions): PolicyClient {
  if (options.transport) return clientsOn(options.transport, () => {});
  const protocol = options.protocol ?? "grpc";
  if (protocol !== "grpc" && protocol !== "connect") {
    throw new Error(`protocol must be "grpc" or "connect" (got "${String(protocol)}")`);
  }
  const interceptors = [traceContext(), ...(options.token ? [bearerToken(options.token)] : []), ...(options.interceptors ?? [])];
  const { ca, cert, key } = options.tls ?? {};
  if ((cert === undefined) !== (key === undefined)) throw new Error("tls.cert and tls.key go together");
  const nodeOptions = {
    ...(ca !== undefined ? { ca: pem(ca) } : {}),
    ...(cert !== undefined && key !== undefined ? { cert: pem(cert), key: pem(key) } : {}),
  };
  let sessionManager: Http2SessionManager | undefined;
  let transport: Transport;
  if (protocol === "grpc") {
    sessionManager = new Http2SessionManager(options.baseUrl, {}, nodeOptions);
    transport = createGrpcTransport({
      baseUrl: options.baseUrl,
      sessionManager,
      interceptors,
      defaultTimeoutMs: options.defaultTimeoutMs,
    });
  } else {
    transport = createConnectTransport({
      baseUrl: options.baseUrl,
      httpVersion: "1.1",
      nodeOptions,
      interceptors,
      defaultTimeoutMs: options.defaultTimeoutMs,
    });
  }
  return clientsOn(transport, () => sessionManager?.abort());
}

function clientsOn(transport: Transport, close: () => void): PolicyClient {
  return { ...apiClients(transport), transport, close };
}

/** PEM text as node:tls takes it. */
function pem(value: string | Uint8Array): string | Buffer {
  return typeof value === "string" ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
