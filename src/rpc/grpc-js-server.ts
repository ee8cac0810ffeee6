// The dedicated gRPC port: serves the same Connect service implementations through @grpc/grpc-js, the fastest gRPC
// stack for Node. Each generated service descriptor becomes a grpc-js service definition with protobuf-es
// serializers; calls run through the same interceptors as the Connect port; errors become gRPC statuses with the
// same google.rpc.Status details (`grpc-status-details-bin`); metadata and deadlines pass through.
import { create, fromBinary, toBinary, type DescField, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { WireType } from "@bufbuild/protobuf/wire";
import {
  Code,
  ConnectError,
  type ContextKey,
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
import { toConnectError } from "./connect-errors.js";
import { MAX_CONCURRENT_STREAMS } from "./http-server.js";
import { callEndKey, headerValueKey, peerCertificateKey, peerKey, protocolKey } from "./context.js";
import type { CallEnd } from "../domain/stream-buffer.js";
import { isDeepFrozen } from "../frozen-value.js";
import { encodingOf, knownEncodingOf } from "../frozen-encoding.js";
import {
  ConnectionGate,
  DEFAULT_CONNECTION_LIMITS,
  NO_OBSERVER,
  peerOf,
  type ConnectionLimits,
  type ConnectionObserver,
} from "./connection-limits.js";
import { requestTimeout } from "./grpc-js-request-timeout.js";
import { derivedWith } from "./call-messages.js";
import { framedResponseOf, sendFramedResponses, type FramedResponse } from "./grpc-js-framed.js";

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
  /** Told of calls cut by the request timeout. */
  observer?: ConnectionObserver;
}

export function createGrpcJsServer(register: (registry: ServiceRegistry) => void, options: GrpcJsOptions): grpc.Server {
  const limits = options.limits ?? DEFAULT_CONNECTION_LIMITS;
  sendFramedResponses();
  const server = new grpc.Server({
    "grpc.max_receive_message_length": options.readMaxBytes,
    "grpc.max_concurrent_streams": MAX_CONCURRENT_STREAMS,
    // grpc-js's own timers: GOAWAY for an idle connection, and for one at its maximum age (±10%), closed after the grace.
    "grpc.max_connection_idle_ms": limits.idleTimeoutMs,
    "grpc.max_connection_age_ms": limits.maxConnectionAgeMs,
    "grpc.max_connection_age_grace_ms": limits.maxConnectionAgeGraceMs,
    // grpc-js has no timer for a request that never completes: this one ends such a call.
    interceptors: [requestTimeout(limits.requestTimeoutMs, options.observer ?? NO_OBSERVER)],
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
        // A stream's messages arrive encoded (see streamHandler), a unary response as a message.
        responseSerialize: (m: unknown) => (m instanceof Uint8Array ? bufferOf(m) : serializeResponse(method.output, m as object)),
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

/**
 * The one request of a server-streaming call, as the async iterable a stream handler takes. Not a generator: the call
 * keeps its request for its whole life (a Watch: hours), and two suspended generators per idle stream showed.
 */
class SingleRequest implements AsyncIterable<unknown> {
  constructor(private readonly request: unknown) {}

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    let request: unknown = this.request;
    let taken = false;
    return {
      next: async () => {
        if (taken) return { done: true, value: undefined };
        taken = true;
        const value = request;
        request = undefined;
        if (value instanceof Undecodable) throw value.error();
        return { done: false, value };
      },
      return: async () => {
        taken = true;
        request = undefined;
        return { done: true, value: undefined };
      },
    };
  }
}

/** The gRPC port's listener (closed at shutdown) and the port it took. */
export interface GrpcJsListening {
  listener: net.Server;
  port: number;
}

/**
 * Listens on `host:port` with `credentials`, and hands grpc-js only the connections within the limits: at most
 * maxConnections at once and maxConnectionsPerAddress from one address, and a client preface within the headers
 * timeout (grpc-js waits forever for it).
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
    if (!gate.admit(socket)) return;
    // grpc-js reads the socket itself; the bytes it read tell whether the preface (24 bytes) arrived. Over TLS the
    // handshake comes first, so there the bound is on the handshake and the preface together.
    const preface = setTimeout(() => {
      if (socket.bytesRead >= PREFACE_LENGTH || socket.destroyed) return;
      observer.timedOut("headers", peerOf(socket));
      socket.destroy();
    }, limits.headersTimeoutMs);
    preface.unref();
    socket.once("close", () => clearTimeout(preface));
    injector.injectConnection(socket);
  });
  const gate = new ConnectionGate(listener, limits, observer);
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

function serializeResponse(schema: DescMessage, message: object): Buffer {
  return bufferOf(isDeepFrozen(message) ? encodingOf(schema, message) : withFrozenParts(schema, message));
}

/**
 * A response that is not frozen but lists frozen messages (a page of cached policies): each listed message's
 * memoised encoding is copied in with its field header, and only the rest of the response is encoded. Fields may
 * appear in any order on the wire (the parser merges them), so the lists go first.
 */
function withFrozenParts(schema: DescMessage, message: object): Uint8Array {
  let parts: Uint8Array[] | undefined;
  let rest = message as Record<string, unknown>;
  for (const field of messageListsOf(schema)) {
    const items = rest[field.localName] as object[];
    if (items.length === 0 || !items.every(isDeepFrozen)) continue;
    parts ??= [];
    for (const item of items) parts.push(framedEncodingOf(field, item));
    rest = { ...rest, [field.localName]: [] };
  }
  const encoded = toBinary(schema, rest as never);
  if (!parts) return encoded;
  parts.push(encoded);
  return Buffer.concat(parts);
}

/** A frozen message's encoding as an element of `field`: its tag, its length and its bytes, memoised. */
const framedEncodings = new WeakMap<object, { tag: number; bytes: Uint8Array }>();

function framedEncodingOf(field: MessageList, item: object): Uint8Array {
  const tag = (field.number << 3) | WireType.LengthDelimited;
  let framed = framedEncodings.get(item);
  if (framed?.tag !== tag) {
    // Not kept unframed as well: a listed message is only ever sent framed.
    const encoded = knownEncodingOf(item) ?? toBinary(field.message, item as never);
    const header: number[] = [];
    for (const value of [tag, encoded.length]) {
      let v = value;
      for (; v > 0x7f; v >>>= 7) header.push((v & 0x7f) | 0x80);
      header.push(v);
    }
    const bytes = new Uint8Array(header.length + encoded.length);
    bytes.set(header);
    bytes.set(encoded, header.length);
    framed = { tag, bytes };
    framedEncodings.set(item, framed);
  }
  return framed.bytes;
}

type MessageList = DescField & { fieldKind: "list"; listKind: "message" };
const messageLists = new WeakMap<DescMessage, MessageList[]>();

/** The repeated message fields of `schema` (most responses have none). */
function messageListsOf(schema: DescMessage): MessageList[] {
  let fields = messageLists.get(schema);
  if (!fields) {
    fields = schema.fields.filter((f): f is MessageList => f.fieldKind === "list" && f.listKind === "message");
    messageLists.set(schema, fields);
  }
  return fields;
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
        // Each message becomes one (create() returns a message as it is) where it is sent, in streamHandler: a layer of
        // iterator here would cost a promise per message and per stream (a Watch with many watchers).
        return new GrpcJsResponse(ctx, true, output) as StreamResponse;
      }
      const output = await run(req.message, ctx);
      return new GrpcJsResponse(ctx, false, create(method.output, output as never)) as UnaryResponse;
    };
    const chain = options.interceptors.reduceRight<AnyFn>((next, interceptor) => interceptor(next) as AnyFn, base);
    handlers[method.localName] =
      method.methodKind === "unary"
        ? unaryHandler(service, method, chain, options)
        : streamHandler(service, method, chain, options);
  }
  return handlers;
}

/** The call a request belongs to: the request object is the call's context too (see GrpcJsCall). */
function contextOf(req: UnaryRequest | StreamRequest): GrpcJsCall {
  // Interceptors may hand on a derived request (withMessage): its prototype chain leads to the call.
  return (req as unknown as { call: GrpcJsCall }).call;
}

/**
 * The context values of a call: what the transport knows (protocol, peer, client certificate) is read from grpc-js
 * only when an interceptor asks for it, and what interceptors set is kept as createContextValues keeps it.
 */
class GrpcJsContextValues implements ContextValues {
  private own: Record<symbol, unknown> | undefined;

  constructor(private readonly call: Call) {}

  get<T>(key: ContextKey<T>): T {
    if (this.own && key.id in this.own) return this.own[key.id] as T;
    if (key === (protocolKey as ContextKey<unknown>)) return "grpc" as T;
    if (key === (peerKey as ContextKey<unknown>)) return this.call.getPeer() as T;
    if (key === (peerCertificateKey as ContextKey<unknown>)) return this.call.getAuthContext().sslPeerCertificate as T;
    if (key === (headerValueKey as ContextKey<unknown>)) return ((name: string) => headerValue(this.call.metadata, name)) as T;
    if (key === (callEndKey as ContextKey<unknown>)) return new GrpcJsCallEnd(this.call) as T;
    return key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    (this.own ??= {})[key.id] = value;
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    // Back to the key's default, not to what the transport knows.
    (this.own ??= {})[key.id] = key.defaultValue;
    return this;
  }
}

/** A call's end as grpc-js tells it (the client cancelled, the deadline passed: "cancelled"), with no AbortController. */
class GrpcJsCallEnd implements CallEnd {
  constructor(private readonly call: Call) {}

  get aborted(): boolean {
    return this.call.cancelled;
  }

  addEventListener(_type: "abort", listener: () => void): void {
    (this.call as grpc.ServerUnaryCall<unknown, unknown>).on("cancelled", listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    (this.call as grpc.ServerUnaryCall<unknown, unknown>).off("cancelled", listener);
  }
}

/**
 * One call: its request as interceptors see it and its HandlerContext at once (one object per call, fields read from
 * grpc-js on first use). Creating AbortControllers, Headers and context values for every call cost more than the
 * rest of a cheap RPC (measured with --cpu-prof).
 */
class GrpcJsCall implements HandlerContext {
  readonly protocolName = "grpc";
  readonly requestMethod = "POST";
  readonly values: GrpcJsContextValues;
  // The request's view (UnaryRequest, StreamRequest). `call` is a field, not a getter returning `this`: a request
  // derived from this one (withMessage) must still lead to this object, where the headers and the signal are kept.
  readonly contextValues: ContextValues;
  readonly call: GrpcJsCall;
  private signalValue: AbortSignal | undefined;
  private requestHeaderValue: Headers | undefined;
  private responseHeaderValue: Headers | undefined;
  private responseTrailerValue: Headers | undefined;

  constructor(
    readonly service: DescService,
    readonly method: DescMethod,
    private readonly grpcCall: Call,
    readonly message: unknown,
    readonly stream: boolean,
    /** The call this request was derived from (withMessage), if it was. */
    origin?: GrpcJsCall,
  ) {
    this.call = origin ?? this;
    this.values = origin ? origin.values : new GrpcJsContextValues(grpcCall);
    this.contextValues = this.values;
  }

  /** This request with another message (call-messages.ts): a new object, not one with this as its prototype. */
  [derivedWith](message: unknown): GrpcJsCall {
    return new GrpcJsCall(this.service, this.method, this.grpcCall, message, this.stream, this.call);
  }

  get header(): Headers {
    return this.requestHeader;
  }

  get url(): string {
    return `/${this.service.typeName}/${this.method.name}`;
  }

  get signal(): AbortSignal {
    const call = this.call;
    if (!call.signalValue) {
      const controller = new AbortController();
      const abort = () => controller.abort(new ConnectError("the call was cancelled or its deadline passed", Code.Canceled));
      if (call.grpcCall.cancelled) abort();
      // `on`, not `once` (its wrapper and state per call): the call is cancelled once, and aborting twice does nothing.
      else (call.grpcCall as grpc.ServerUnaryCall<unknown, unknown>).on("cancelled", abort);
      call.signalValue = controller.signal;
    }
    return call.signalValue;
  }

  timeoutMs(): number | undefined {
    const deadline = this.grpcCall.getDeadline();
    const ms = deadline instanceof Date ? deadline.getTime() : deadline;
    return Number.isFinite(ms) ? Math.max(0, ms - Date.now()) : undefined;
  }

  get requestHeader(): Headers {
    // grpc-js keeps the request's content-type to itself: restore it.
    const call = this.call;
    return (call.requestHeaderValue ??= headersOf(call.grpcCall.metadata, { "content-type": GRPC_CONTENT_TYPE }));
  }

  get responseHeader(): Headers {
    const call = this.call;
    return (call.responseHeaderValue ??= new Headers());
  }

  get responseTrailer(): Headers {
    const call = this.call;
    return (call.responseTrailerValue ??= new Headers());
  }

  /** The response metadata, or undefined when nothing was set (grpc-js then sends its own). */
  headerMetadata(): grpc.Metadata | undefined {
    const call = this.call;
    return call.responseHeaderValue && metadataOf(call.responseHeaderValue);
  }

  trailerMetadata(): grpc.Metadata | undefined {
    const call = this.call;
    return call.responseTrailerValue && metadataOf(call.responseTrailerValue);
  }
}

/** A response whose headers are created only when an interceptor touches them. */
class GrpcJsResponse {
  readonly service: DescService;
  readonly method: DescMethod;

  constructor(
    private readonly ctx: GrpcJsCall,
    readonly stream: boolean,
    readonly message: unknown,
  ) {
    this.service = ctx.service;
    this.method = ctx.method;
  }

  /** This response with another message (call-messages.ts). */
  [derivedWith](message: unknown): GrpcJsResponse {
    return new GrpcJsResponse(this.ctx, this.stream, message);
  }

  get header(): Headers {
    return this.ctx.responseHeader;
  }

  get trailer(): Headers {
    return this.ctx.responseTrailer;
  }
}

function requestOf(service: DescService, method: DescMethod, call: Call, message: unknown, stream: boolean) {
  return new GrpcJsCall(service, method, call, message, stream) as unknown as UnaryRequest & StreamRequest;
}

function unaryHandler(service: DescService, method: DescMethod, chain: AnyFn, options: GrpcJsOptions): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    if (call.request instanceof Undecodable) return callback(statusOf(call.request.error(), options));
    void runUnary(requestOf(service, method, call, call.request, false), call, callback, chain, options);
  };
}

// An async function rather than .then() with two closures: one promise per call and nothing else.
async function runUnary(
  req: UnaryRequest,
  call: grpc.ServerUnaryCall<unknown, unknown>,
  callback: grpc.sendUnaryData<unknown>,
  chain: AnyFn,
  options: GrpcJsOptions,
): Promise<void> {
  let res: UnaryResponse;
  try {
    res = (await chain(req)) as UnaryResponse;
  } catch (error) {
    return callback(statusOf(error, options));
  }
  const ctx = contextOf(req);
  const header = ctx.headerMetadata();
  if (header) call.sendMetadata(header);
  callback(null, res.message, ctx.trailerMetadata());
}

function streamHandler(service: DescService, method: DescMethod, chain: AnyFn, options: GrpcJsOptions) {
  return (call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>) => {
    // Not `for await (… of call)`: a Readable's default iterator destroys the stream when the requests end, and a
    // destroyed grpc-js call never sends its status, so a bidi call (reflection) would hang after the client half-closes.
    const input =
      "request" in call && call.request !== undefined
        ? new SingleRequest(call.request)
        : decoded((call as grpc.ServerDuplexStream<unknown, unknown>).iterator({ destroyOnReturn: false }) as AsyncIterable<unknown>);
    const req = requestOf(service, method, call, input, true);
    const failed = (error: unknown) => {
      if (!call.cancelled) call.emit("error", statusOf(error, options));
    };
    // One handler for a failure anywhere before the first message: the chain's (thrown or rejected) or the start's.
    Promise.resolve()
      .then(() => chain(req))
      .then((res) => {
        const header = contextOf(req).headerMetadata();
        if (header) call.sendMetadata(header);
        new StreamPump(call, method.output, (res as StreamResponse).message[Symbol.asyncIterator](), () => contextOf(req).trailerMetadata(), failed).pull();
      })
      .catch(failed);
  };
}

/**
 * Sends a stream's messages as the handler produces them, one `next()` at a time. Callbacks rather than an async
 * function with `for await`: that function stays suspended for the stream's life (a Watch: hours), and with 10,000
 * idle watchers its frame showed in the heap.
 */
class StreamPump {
  private readonly outflow: Outflow;
  private readonly onNext = (result: IteratorResult<unknown>) => this.sent(result);

  constructor(
    private readonly call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>,
    private readonly output: DescMessage,
    private readonly messages: AsyncIterator<unknown>,
    private readonly trailers: () => grpc.Metadata | undefined,
    private readonly failed: (error: unknown) => void,
  ) {
    this.outflow = new Outflow(call);
  }

  pull(): void {
    let next: Promise<IteratorResult<unknown>>;
    try {
      next = this.messages.next();
    } catch (error) {
      return this.failed(error);
    }
    next.then(this.onNext, this.failed);
  }

  private sent(result: IteratorResult<unknown>): void {
    let waiting: Promise<void> | undefined;
    try {
      if (this.call.cancelled) return this.stop();
      if (result.done) return void this.call.end(this.trailers());
      const message = create(this.output, result.value as never);
      // A response many streams send (Watch's shared ones) is framed once for all of them (grpc-js-framed.ts).
      const framed = framedResponseOf(message);
      const bytes = framed ? framed.bytes : serializeResponse(this.output, message);
      waiting = this.outflow.write(framed ?? bytes, bytes.length);
    } catch (error) {
      // As `for await` would: the stream is told to stop when the loop's body fails.
      this.stop();
      return this.failed(error);
    }
    if (waiting) waiting.then(() => this.pull(), this.failed);
    else this.pull();
  }

  /** Tells the stream to stop (its producer ends, what it holds is given back). */
  private stop(): void {
    this.messages.return?.().catch(() => undefined);
  }
}

/** Bytes a stream may have written but not yet sent (HTTP/2 flow control) before it waits for them to leave. */
const STREAM_HIGH_WATER_BYTES = 64 * 1024;

/**
 * A stream's writes, with the backpressure grpc-js leaves to its caller: `write` returns once what is unsent is below
 * the high-water mark, so a reader that stops reading stops the stream's producer (which then sees its own bound:
 * Watch cuts such a stream off) instead of filling the server's memory.
 */
class Outflow {
  private unsent = 0;
  private resume: (() => void) | undefined;
  private listening = false;

  constructor(private readonly call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>) {}

  /** Writes a response (`size` bytes); a promise to await when what is unsent passed the high-water mark. */
  write(response: Buffer | FramedResponse, size: number): Promise<void> | undefined {
    this.unsent += size;
    // Called once HTTP/2 has taken the bytes (never while the peer's flow-control window is closed).
    this.call.write(response, () => {
      this.unsent -= size;
      if (this.unsent <= STREAM_HIGH_WATER_BYTES) this.wake();
    });
    if (this.unsent <= STREAM_HIGH_WATER_BYTES || this.call.cancelled) return undefined;
    // Told of the call's end only once it has had to wait (most streams never do: three listeners per idle stream showed).
    if (!this.listening) {
      this.listening = true;
      const release = () => this.wake();
      this.call.once("cancelled", release);
      this.call.once("close", release);
      this.call.once("error", release);
    }
    return new Promise<void>((resolve) => (this.resume = resolve));
  }

  private wake(): void {
    const resume = this.resume;
    this.resume = undefined;
    resume?.();
  }
}

async function first<T>(messages: AsyncIterable<T>): Promise<T> {
  for await (const m of messages) return m;
  throw new ConnectError("expected one request message", Code.InvalidArgument);
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

/** A request header's value: grpc-js keeps the request's content-type to itself (see headersOf). */
function headerValue(metadata: grpc.Metadata, name: string): string | undefined {
  return name === "content-type" ? GRPC_CONTENT_TYPE : metadataValue(metadata, name);
}

const GRPC_CONTENT_TYPE = "application/grpc+proto";

/** A text metadata entry's first value. */
function metadataValue(metadata: grpc.Metadata, name: string): string | undefined {
  const value = metadata.get(name)[0];
  return typeof value === "string" ? value : undefined;
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
