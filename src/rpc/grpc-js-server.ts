// The dedicated gRPC port: serves the same Connect service implementations through @grpc/grpc-js, the fastest gRPC
// stack for Node. Each generated service descriptor becomes a grpc-js service definition with protobuf-es
// serializers; calls run through the same interceptors as the Connect port; errors become gRPC statuses with the
// same google.rpc.Status details (`grpc-status-details-bin`); metadata and deadlines pass through.
import { create, fromBinary, toBinary, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createContextValues,
  type ContextValues,
  createServiceImplSpec,
  type HandlerContext,
  type Interceptor,
  type ServiceImpl,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import net from "node:net";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import type { ServiceRegistry } from "./routes.js";
import { toConnectError } from "./errors.js";
import { MAX_CONCURRENT_STREAMS } from "./http-server.js";
import { peerCertificateKey, peerKey, protocolKey } from "./context.js";
import { isShared } from "../shared-value.js";
import {
  DEFAULT_CONNECTION_LIMITS,
  NO_OBSERVER,
  capConnections,
  type ConnectionLimits,
  type ConnectionObserver,
} from "./connection-limits.js";

type Call =
  | grpc.ServerUnaryCall<unknown, unknown>
  | grpc.ServerWritableStream<unknown, unknown>
  | grpc.ServerDuplexStream<unknown, unknown>;
type AnyFn = (req: UnaryRequest | StreamRequest) => Promise<UnaryResponse | StreamResponse>;
type Impl = (input: unknown, ctx: HandlerContext) => unknown;

export interface GrpcJsOptions {
  interceptors: Interceptor[];
  readMaxBytes: number;
  /** Called for an error that is not a known failure (it is logged there). */
  unexpected: (error: unknown) => void;
  limits?: ConnectionLimits;
}

/**
 * The longest a connection with an unfinished request can stay open on this port: grpc-js runs a handler only once the
 * request message is complete and has no timeout of its own for one that never completes, so connections are
 * recycled at this age instead (GOAWAY; in-flight calls get the request timeout to finish).
 */
export const MAX_CONNECTION_AGE_MS = 30 * 60_000;

export function createGrpcJsServer(register: (registry: ServiceRegistry) => void, options: GrpcJsOptions): grpc.Server {
  const limits = options.limits ?? DEFAULT_CONNECTION_LIMITS;
  const server = new grpc.Server({
    "grpc.max_receive_message_length": options.readMaxBytes,
    "grpc.max_concurrent_streams": MAX_CONCURRENT_STREAMS,
    "grpc.max_connection_idle_ms": limits.idleTimeoutMs,
    "grpc.max_connection_age_ms": MAX_CONNECTION_AGE_MS,
    "grpc.max_connection_age_grace_ms": limits.requestTimeoutMs,
  });
  register({
    service(desc, impl) {
      server.addService(definitionOf(desc), handlersOf(desc, impl as Partial<ServiceImpl<DescService>>, options));
      return this;
    },
  });
  return server;
}

function definitionOf(service: DescService): grpc.ServiceDefinition {
  return Object.fromEntries<grpc.MethodDefinition<unknown, unknown>>(
    service.methods.map((method) => [
      method.localName,
      {
        path: `/${service.typeName}/${method.name}`,
        requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
        responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
        requestSerialize: (m: unknown) => bufferOf(toBinary(method.input, m as never)),
        requestDeserialize: decodeRequest(method.input),
        responseSerialize: (m: unknown) => serializeResponse(method.output, m as object),
        responseDeserialize: (b: Buffer) => fromBinary(method.output, b),
        originalName: method.localName,
      },
    ]),
  );
}

/**
 * A request message that does not decode. grpc-js answers INTERNAL when a deserializer throws; grpc-go and grpc-java
 * answer INVALID_ARGUMENT, and so do the handlers here when they receive this instead of a message.
 */
class Undecodable {
  constructor(readonly reason: string) {}

  error(): ConnectError {
    return new ConnectError(`the request message does not decode: ${this.reason}`, Code.InvalidArgument);
  }
}

function decodeRequest(schema: DescMessage): (b: Buffer) => unknown {
  return (b) => {
    try {
      return fromBinary(schema, b);
    } catch (e) {
      return new Undecodable(e instanceof Error ? e.message : String(e));
    }
  };
}

async function* decoded(requests: AsyncIterable<unknown>): AsyncIterable<unknown> {
  for await (const request of requests) {
    if (request instanceof Undecodable) throw request.error();
    yield request;
  }
}

/** The gRPC port's listener (closed at shutdown) and the port it took. */
export interface GrpcJsListening {
  listener: net.Server;
  port: number;
}

/**
 * Listens on `host:port` with `credentials`, and hands grpc-js only the connections within the limits: at most
 * maxConnections at once, and a client preface within the headers timeout (grpc-js waits forever for it).
 */
export async function listenGrpcJs(
  server: grpc.Server,
  credentials: grpc.ServerCredentials,
  host: string,
  port: number,
  limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
  observer: ConnectionObserver = NO_OBSERVER,
): Promise<GrpcJsListening> {
  const injector = server.createConnectionInjector(credentials);
  const listener = net.createServer({ noDelay: true }, (socket) => {
    // grpc-js reads the socket itself; the bytes it read tell whether the preface (24 bytes) arrived. Over TLS the
    // handshake comes first, so there the bound is on the handshake and the preface together.
    const preface = setTimeout(() => {
      if (socket.bytesRead >= PREFACE_LENGTH || socket.destroyed) return;
      observer.timedOut("headers");
      socket.destroy();
    }, limits.headersTimeoutMs);
    preface.unref();
    socket.once("close", () => clearTimeout(preface));
    injector.injectConnection(socket);
  });
  capConnections(listener, limits.maxConnections, observer);
  listener.once("close", () => injector.destroy());
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(port, host, () => resolve());
  });
  return { listener, port: (listener.address() as net.AddressInfo).port };
}

const PREFACE_LENGTH = 24;

/** A Buffer over the same bytes (Buffer.from(Uint8Array) would copy them). */
function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Encoded shared responses. A shared message cannot change, and the domain hands out the same shared object for as
 * long as what it shows is unchanged (a cached policy, a cached effective policy), so it is encoded once.
 */
const encodedResponses = new WeakMap<object, Buffer>();

function serializeResponse(schema: DescMessage, message: object): Buffer {
  if (!isShared(message)) return bufferOf(toBinary(schema, message as never));
  let encoded = encodedResponses.get(message);
  if (!encoded) {
    encoded = bufferOf(toBinary(schema, message as never));
    encodedResponses.set(message, encoded);
  }
  return encoded;
}

function handlersOf(service: DescService, impl: Partial<ServiceImpl<DescService>>, options: GrpcJsOptions): grpc.UntypedServiceImplementation {
  const specs = createServiceImplSpec(service, impl).methods;
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const spec = specs[method.localName]!;
    const run = spec.impl as Impl;
    const base: AnyFn = async (req) => {
      const ctx = contextOf(req);
      if (req.stream) {
        const input = method.methodKind === "server_streaming" ? await first(req.message) : req.message;
        const output = run(input, ctx) as AsyncIterable<unknown>;
        return responseOf(ctx, true, messages(method.output, output)) as StreamResponse;
      }
      const output = await run(req.message, ctx);
      return responseOf(ctx, false, create(method.output, output as never)) as UnaryResponse;
    };
    const chain = options.interceptors.reduceRight<AnyFn>((next, interceptor) => interceptor(next) as AnyFn, base);
    handlers[method.localName] =
      method.methodKind === "unary"
        ? unaryHandler(service, method, chain, options)
        : streamHandler(service, method, chain, options);
  }
  return handlers;
}

// The handler context travels on the request so the base function can hand it to the implementation.
const CTX = Symbol("handler context");
function contextOf(req: UnaryRequest | StreamRequest): HandlerContext {
  return (req as unknown as { [CTX]: HandlerContext })[CTX];
}

/**
 * A call's HandlerContext, built lazily: most unary calls never read the signal or the headers, and creating
 * AbortControllers and Headers for every call cost more than the rest of a cheap RPC (measured with --cpu-prof).
 */
class GrpcJsCallContext implements HandlerContext {
  readonly protocolName = "grpc";
  readonly requestMethod = "POST";
  readonly values: ContextValues;
  private signalValue: AbortSignal | undefined;
  private requestHeaderValue: Headers | undefined;
  private responseHeaderValue: Headers | undefined;
  private responseTrailerValue: Headers | undefined;

  constructor(
    readonly service: DescService,
    readonly method: DescMethod,
    private readonly call: Call,
  ) {
    this.values = createContextValues()
      .set(protocolKey, "grpc")
      .set(peerKey, call.getPeer())
      .set(peerCertificateKey, call.getAuthContext().sslPeerCertificate);
  }

  get url(): string {
    return `/${this.service.typeName}/${this.method.name}`;
  }

  get signal(): AbortSignal {
    if (!this.signalValue) {
      const controller = new AbortController();
      const abort = () => controller.abort(new ConnectError("the call was cancelled or its deadline passed", Code.Canceled));
      if (this.call.cancelled) abort();
      else (this.call as grpc.ServerUnaryCall<unknown, unknown>).once("cancelled", abort);
      this.signalValue = controller.signal;
    }
    return this.signalValue;
  }

  timeoutMs = (): number | undefined => {
    const deadline = this.call.getDeadline();
    const ms = deadline instanceof Date ? deadline.getTime() : deadline;
    return Number.isFinite(ms) ? Math.max(0, ms - Date.now()) : undefined;
  };

  get requestHeader(): Headers {
    // grpc-js keeps the request's content-type to itself: restore it.
    return (this.requestHeaderValue ??= headersOf(this.call.metadata, { "content-type": "application/grpc+proto" }));
  }

  get responseHeader(): Headers {
    return (this.responseHeaderValue ??= new Headers());
  }

  get responseTrailer(): Headers {
    return (this.responseTrailerValue ??= new Headers());
  }

  /** The response metadata, or undefined when nothing was set (grpc-js then sends its own). */
  headerMetadata(): grpc.Metadata | undefined {
    return this.responseHeaderValue && metadataOf(this.responseHeaderValue);
  }

  trailerMetadata(): grpc.Metadata | undefined {
    return this.responseTrailerValue && metadataOf(this.responseTrailerValue);
  }
}

/** A response whose headers are created only when an interceptor touches them. */
function responseOf(ctx: HandlerContext, stream: boolean, message: unknown) {
  return {
    stream,
    service: ctx.service,
    method: ctx.method,
    message,
    get header() {
      return ctx.responseHeader;
    },
    get trailer() {
      return ctx.responseTrailer;
    },
  };
}

function requestOf(service: DescService, method: DescMethod, call: Call, message: unknown, stream: boolean) {
  const ctx = new GrpcJsCallContext(service, method, call);
  return {
    stream,
    service,
    method,
    requestMethod: "POST",
    message,
    contextValues: ctx.values,
    get url() {
      return ctx.url;
    },
    get signal() {
      return ctx.signal;
    },
    get header() {
      return ctx.requestHeader;
    },
    [CTX]: ctx,
  } as unknown as UnaryRequest & StreamRequest;
}

function unaryHandler(service: DescService, method: DescMethod, chain: AnyFn, options: GrpcJsOptions): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    if (call.request instanceof Undecodable) return callback(statusOf(call.request.error(), options));
    const req = requestOf(service, method, call, call.request, false);
    chain(req).then(
      (res) => {
        const ctx = contextOf(req) as GrpcJsCallContext;
        const header = ctx.headerMetadata();
        if (header) call.sendMetadata(header);
        callback(null, (res as UnaryResponse).message, ctx.trailerMetadata());
      },
      (error: unknown) => callback(statusOf(error, options)),
    );
  };
}

function streamHandler(service: DescService, method: DescMethod, chain: AnyFn, options: GrpcJsOptions) {
  return (call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>) => {
    // Not `for await (… of call)`: a Readable's default iterator destroys the stream when the requests end, and a
    // destroyed grpc-js call never sends its status, so a bidi call (reflection) would hang after the client half-closes.
    const input = decoded(
      "request" in call && call.request !== undefined
        ? single(call.request)
        : ((call as grpc.ServerDuplexStream<unknown, unknown>).iterator({ destroyOnReturn: false }) as AsyncIterable<unknown>),
    );
    void (async () => {
      try {
        const req = requestOf(service, method, call, input, true);
        const res = (await chain(req)) as StreamResponse;
        const header = (contextOf(req) as GrpcJsCallContext).headerMetadata();
        if (header) call.sendMetadata(header);
        for await (const message of res.message) {
          if (call.cancelled) return;
          call.write(message);
        }
        call.end((contextOf(req) as GrpcJsCallContext).trailerMetadata());
      } catch (error) {
        if (!call.cancelled) call.emit("error", statusOf(error, options));
      }
    })();
  };
}

async function* single<T>(message: T): AsyncIterable<T> {
  yield message;
}

async function first<T>(messages: AsyncIterable<T>): Promise<T> {
  for await (const m of messages) return m;
  throw new ConnectError("expected one request message", Code.InvalidArgument);
}

async function* messages(schema: DescMessage, output: AsyncIterable<unknown>): AsyncIterable<never> {
  for await (const m of output) yield create(schema, m as never) as never;
}

function statusOf(error: unknown, options: GrpcJsOptions): Partial<grpc.StatusObject> {
  const connectError = toConnectError(error, options.unexpected);
  const metadata = metadataOf(connectError.metadata);
  const details = connectError.details.flatMap((d) => ("desc" in d ? [anyPack(d.desc, create(d.desc, d.value))] : []));
  if (details.length > 0) {
    const status = create(StatusSchema, { code: connectError.code, message: connectError.rawMessage, details });
    metadata.set("grpc-status-details-bin", Buffer.from(toBinary(StatusSchema, status)));
  }
  return { code: connectError.code as number as grpc.status, details: connectError.rawMessage, metadata };
}

// grpc-js keeps the request's content-type to itself; `base` restores it.
function headersOf(metadata: grpc.Metadata, base: Record<string, string>): Headers {
  const headers = new Headers(base);
  for (const [key, value] of Object.entries(metadata.getMap())) {
    headers.set(key, typeof value === "string" ? value : Buffer.from(value).toString("base64"));
  }
  return headers;
}

function metadataOf(headers: Headers): grpc.Metadata {
  const metadata = new grpc.Metadata();
  headers.forEach((value, key) => {
    if (key.endsWith("-bin")) metadata.set(key, Buffer.from(value, "base64"));
    else metadata.set(key, value);
  });
  return metadata;
}
