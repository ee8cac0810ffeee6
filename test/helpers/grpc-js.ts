// @grpc/grpc-js clients built at run time from proto/policy/v1/*.proto by @grpc/proto-loader, as a client in another
// language would be, plus a generic grpc-js client for the protobuf-es generated health and reflection services.
import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { join } from "node:path";
import { REPO_ROOT } from "./child-server.js";
import { CALL_TIMEOUT_MS } from "./clients.js";

type Unary = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (e: grpc.ServiceError | null, r: any) => void,
) => grpc.ClientUnaryCall;
export type GrpcJsClient = grpc.Client & Record<string, Unary>;

export interface GrpcJsClients {
  policies: GrpcJsClient;
  resources: GrpcJsClient;
  access: GrpcJsClient;
  close(): void;
}

/** Clients of PolicyService, ResourceService and AccessService at `address` (host:port), cleartext by default. */
export async function grpcJsClients(address: string, credentials = grpc.credentials.createInsecure()): Promise<GrpcJsClients> {
  const definition = await protoLoader.load(
    ["policy/v1/policy_service.proto", "policy/v1/resource_service.proto", "policy/v1/access_service.proto"],
    { includeDirs: [join(REPO_ROOT, "proto")], longs: String, enums: String, defaults: true },
  );
  const v1 = (grpc.loadPackageDefinition(definition).policy as grpc.GrpcObject).v1 as grpc.GrpcObject;
  const make = (name: string) =>
    new (v1[name] as grpc.ServiceClientConstructor)(address, credentials) as GrpcJsClient;
  const clients = { policies: make("PolicyService"), resources: make("ResourceService"), access: make("AccessService") };
  return {
    ...clients,
    close() {
      Object.values(clients).forEach((c) => c.close());
    },
  };
}

export interface GrpcJsResult {
  response: any;
  /** The response headers. */
  header: grpc.Metadata;
}

/** Calls a unary method with a deadline; resolves with the response and headers, or rejects with the ServiceError. */
export function grpcJsCall(
  client: GrpcJsClient,
  method: string,
  request: object,
  options: { metadata?: grpc.Metadata; deadline?: number } = {},
): Promise<GrpcJsResult> {
  return new Promise((resolve, reject) => {
    let header = new grpc.Metadata();
    const call = client[method]!(
      request,
      options.metadata ?? new grpc.Metadata(),
      { deadline: options.deadline ?? Date.now() + CALL_TIMEOUT_MS },
      (error, response) => (error ? reject(error) : resolve({ response, header })),
    );
    call.on("metadata", (m: grpc.Metadata) => (header = m));
  });
}

/** The response of a unary call (see grpcJsCall). */
export async function grpcJsResponse(client: GrpcJsClient, method: string, request: object): Promise<any> {
  return (await grpcJsCall(client, method, request)).response;
}

/** The grpc-js ServiceError `promise` rejects with; throws when it resolves. */
export async function grpcJsError(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  return promise.then(
    () => {
      throw new Error("expected the call to fail, but it succeeded");
    },
    (e: grpc.ServiceError) => e,
  );
}

/** grpc-js (de)serializers of protobuf-es messages. */
function codec<I extends DescMessage, O extends DescMessage>(input: I, output: O) {
  return [(m: MessageShape<I>) => Buffer.from(toBinary(input, m)), (b: Buffer) => fromBinary(output, b)] as const;
}

/** A unary call of any method through a plain grpc-js Client, with protobuf-es (de)serializers. */
export function rawUnary<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  path: string,
  input: I,
  output: O,
  request: MessageShape<I>,
  deadline = Date.now() + CALL_TIMEOUT_MS,
): Promise<MessageShape<O>> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(path, ...codec(input, output), request, new grpc.Metadata(), { deadline }, (error, response) =>
      error ? reject(error) : resolve(response!),
    ),
  );
}

/** A server-streaming call through a plain grpc-js Client; cancel it with `call.cancel()`. */
export function rawServerStream<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  path: string,
  input: I,
  output: O,
  request: MessageShape<I>,
  deadline = Date.now() + CALL_TIMEOUT_MS * 2,
): grpc.ClientReadableStream<MessageShape<O>> {
  return client.makeServerStreamRequest(path, ...codec(input, output), request, new grpc.Metadata(), { deadline });
}
