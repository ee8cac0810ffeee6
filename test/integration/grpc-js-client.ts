// @grpc/grpc-js clients built from the .proto files at run time by @grpc/proto-loader, as another language would.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/child-server.js";

const CALL_DEADLINE_MS = 10_000;

type Unary = (request: object, options: grpc.CallOptions, callback: (e: grpc.ServiceError | null, r: any) => void) => void;
export type GrpcJsClient = grpc.Client & Record<string, Unary>;

export interface GrpcJsClients {
  policies: GrpcJsClient;
  resources: GrpcJsClient;
  close(): void;
}

/** Clients of PolicyService and ResourceService at `address` (host:port). */
export async function grpcJsClients(address: string, credentials = grpc.credentials.createInsecure()): Promise<GrpcJsClients> {
  const definition = await protoLoader.load(["policy/v1/policy_service.proto", "policy/v1/resource_service.proto"], {
    includeDirs: [join(REPO_ROOT, "proto")],
    longs: String,
    enums: String,
    defaults: true,
  });
  const v1 = (grpc.loadPackageDefinition(definition).policy as grpc.GrpcObject).v1 as grpc.GrpcObject;
  const make = (name: string) => new (v1[name] as grpc.ServiceClientConstructor)(address, credentials) as GrpcJsClient;
  const policies = make("PolicyService");
  const resources = make("ResourceService");
  return {
    policies,
    resources,
    close() {
      policies.close();
      resources.close();
    },
  };
}

/** Calls a unary method; resolves with the response or rejects with the grpc-js ServiceError. */
export function call(client: GrpcJsClient, method: string, request: object): Promise<any> {
  return new Promise((resolve, reject) =>
    client[method]!(request, { deadline: Date.now() + CALL_DEADLINE_MS }, (error, response) =>
      error ? reject(error) : resolve(response),
    ),
  );
}

/** The grpc-js ServiceError `promise` rejects with; throws when it resolves. */
export async function grpcError(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  return promise.then(
    () => {
      throw new Error("expected the call to fail, but it succeeded");
    },
    (e: grpc.ServiceError) => e,
  );
}
