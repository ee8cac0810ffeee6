// connect-es clients of every service of the API, made by the SDK's createPolicyClient over any protocol the main
// port serves, with a token, a raw authorization header, TLS files and a default deadline as a test needs.
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Health } from "../../gen/health/v1/health_pb.js";
import { AuditService } from "../../gen/policy/v1/audit_service_pb.js";
import { createPolicyClient, type PolicyClient } from "../../src/client/index.js";

/** Every call of the tests that opt in carries this deadline, so that nothing can hang. */
export const CALL_TIMEOUT_MS = 15_000;

/**
 * `grpc`: gRPC over HTTP/2; `connect`: the Connect protocol with JSON over HTTP/1.1, as curl speaks it;
 * `connect-h1` and `connect-h2`: the Connect protocol, binary, over HTTP/1.1 or HTTP/2; `grpc-web`: over HTTP/2.
 */
export type Protocol = "grpc" | "connect" | "connect-h1" | "connect-h2" | "grpc-web";

export interface ClientOptions {
  protocol?: Protocol;
  /** A bearer token sent in `authorization`. */
  token?: string;
  /** A raw `authorization` header (overrides `token`). */
  authorization?: string;
  /** TLS: CA of the server, client certificate and key. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** A deadline of every call; none by default. */
  timeoutMs?: number;
  /** More interceptors (after the authorization one). */
  interceptors?: Interceptor[];
}

export interface ApiClients extends PolicyClient {
  audit: Client<typeof AuditService>;
  health: Client<typeof Health>;
}

/** Clients of every service at `baseUrl` (default: gRPC, no token, no deadline). */
export function apiClients(baseUrl: string, options: ClientOptions = {}): ApiClients {
  const protocol = options.protocol ?? "grpc";
  const authorization = options.authorization ?? (options.token ? `Bearer ${options.token}` : undefined);
  const interceptors = [...(authorization ? [authorizationHeader(authorization)] : []), ...(options.interceptors ?? [])];
  const sdk =
    protocol === "grpc" || protocol === "connect-h1"
      ? createPolicyClient({
          baseUrl,
          protocol: protocol === "grpc" ? "grpc" : "connect",
          tls: options.tls,
          interceptors,
          defaultTimeoutMs: options.timeoutMs,
        })
      : createPolicyClient({ baseUrl, transport: otherTransport(baseUrl, protocol, interceptors, options) });
  return { ...sdk, audit: createClient(AuditService, sdk.transport), health: createClient(Health, sdk.transport) };
}

/** The transports the SDK does not make itself. */
function otherTransport(
  baseUrl: string,
  protocol: "connect" | "connect-h2" | "grpc-web",
  interceptors: Interceptor[],
  options: ClientOptions,
): Transport {
  const common = { baseUrl, interceptors, defaultTimeoutMs: options.timeoutMs, nodeOptions: options.tls };
  if (protocol === "grpc-web") return createGrpcWebTransport({ ...common, httpVersion: "2" });
  if (protocol === "connect-h2") return createConnectTransport({ ...common, httpVersion: "2" });
  return createConnectTransport({ ...common, httpVersion: "1.1", useBinaryFormat: false });
}

function authorizationHeader(value: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", value);
    return next(req);
  };
}
