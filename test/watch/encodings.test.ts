// What a Watch message is on the wire, whichever codec and transport: the messages every stream shares go out as the
// bytes made once for them (carried as unknown fields, so connect-node copies rather than encodes them per stream),
// which every client reads as the same message; a JSON client gets the message itself; and the main port sends Watch
// messages uncompressed even to a client that accepts gzip (as the gRPC port does), since one message goes to many
// streams.
import http2 from "node:http2";
import { create, equals, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { PolicySchema, SyncStatus } from "../../gen/policy/v1/policy_pb.js";
import { ChangeSchema, WatchRequestSchema, WatchResponseSchema } from "../../gen/policy/v1/watch_service_pb.js";
import { carrierOf } from "../../src/frozen-encoding.js";
import { SharedResponse } from "../../src/domain/shared-response.js";
import { seededRandom } from "../helpers/seed.js";
import { waitFor } from "../helpers/wait.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { CLOUD, follow, grantPolicy, makeTree, watchClients } from "../helpers/watch.js";

describe("carrierOf", () => {
  test("a shared message's carrier encodes to the same bytes and reads back as the same message", () => {
    const random = seededRandom("carrierOf");
    const members = Array.from({ length: 1 + Math.floor(random() * 300) }, (_, i) => `user:m${i}-${Math.floor(random() * 1e9)}@example.com`);
    const change = create(ChangeSchema, { sequence: 42n, resource: "projects/p", policy: grantPolicy(...members) });
    const batch = create(WatchResponseSchema, { event: { case: "batch", value: { changes: [change, change], lastSequence: 43n } } });
    const shared = new SharedResponse(toBinary(WatchResponseSchema, batch), () => batch);
    const carrier = shared.carrier;
    expect(carrier.event.case).toBeUndefined();
    const bytes = toBinary(WatchResponseSchema, carrier);
    expect(Buffer.from(bytes).equals(Buffer.from(toBinary(WatchResponseSchema, batch)))).toBe(true);
    expect(equals(WatchResponseSchema, fromBinary(WatchResponseSchema, bytes), batch)).toBe(true);
    expect(equals(WatchResponseSchema, shared.message, batch)).toBe(true);
    expect(shared.carrier).toBe(carrier);
  });

  test("a first field whose tag takes more than one byte, and an empty message, keep their bytes", () => {
    const policy = create(PolicySchema, { syncStatus: SyncStatus.SUCCESS });
    expect(toBinary(PolicySchema, carrierOf(PolicySchema, toBinary(PolicySchema, policy)))).toEqual(toBinary(PolicySchema, policy));
    expect(toBinary(PolicySchema, carrierOf(PolicySchema, new Uint8Array()))).toEqual(new Uint8Array());
  });
});

describe("Watch on the main port", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
    await makeTree(server.connect);
  });
  afterAll(async () => {
    await server?.stop();
  });

  test("binary and JSON clients, batched or not, read the same changes", async () => {
    const transports = {
      grpc: createGrpcTransport({ baseUrl: server.url }),
      json: createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", useBinaryFormat: false }),
      "grpc-js port": createGrpcTransport({ baseUrl: `http://${server.grpcAddress}` }),
    };
    const followers = Object.values(transports).flatMap((t) => [true, false].map((batch) => follow(watchClients(t).watch, { batch })));
    await Promise.all(followers.map((f) => f.until((x) => x.messages.length > 0)));
    const project = "projects/encodings";
    await server.connect.resources.createResource({ resource: { name: project, parent: CLOUD } });
    await Promise.all([1, 2, 3].map((n) => server.connect.policies.setPolicy({ resource: project, policy: grantPolicy(`user:e${n}@example.com`) }).catch(() => undefined)));
    await server.connect.policies.setPolicy({ resource: project, policy: grantPolicy("user:last@example.com") });
    await Promise.all(followers.map((f) => f.until((x) => x.changes().at(-1)?.policy?.bindings[0]?.members[0] === "user:last@example.com")));
    await Promise.all(followers.map((f) => f.stop()));
    const seen = followers.map((f) => f.changes().map((c) => toJson(ChangeSchema, c)));
    for (const other of seen.slice(1)) expect(other).toEqual(seen[0]);
    expect(seen[0]!.length).toBeGreaterThanOrEqual(2);
  });

  test("a client that accepts gzip gets Watch messages uncompressed", async () => {
    const project = "projects/uncompressed";
    await server.connect.resources.createResource({ resource: { name: project, parent: CLOUD } });
    const session = http2.connect(server.url);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/policy.v1.WatchService/Watch",
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-accept-encoding": "gzip",
      });
      const body = toBinary(WatchRequestSchema, create(WatchRequestSchema, { batch: true, subtree: project }));
      const frame = Buffer.alloc(5 + body.length);
      frame.writeUInt32BE(body.length, 1);
      frame.set(body, 5);
      stream.end(frame);
      let received = Buffer.alloc(0);
      const frames: { compressed: number; length: number }[] = [];
      stream.on("data", (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        while (received.length >= 5 && received.length >= 5 + received.readUInt32BE(1)) {
          const length = received.readUInt32BE(1);
          frames.push({ compressed: received[0]!, length });
          received = received.subarray(5 + length);
        }
      });
      await new Promise<void>((resolve) => stream.once("response", () => resolve()));
      // A policy well above the 1 KiB from which connect-node compresses a message.
      const members = Array.from({ length: 200 }, (_, i) => `user:big${i}@example.com`);
      await server.connect.policies.setPolicy({ resource: project, policy: grantPolicy(...members) });
      // The progress message, then the batch with the policy.
      await waitFor(() => frames.length >= 2 || undefined, "a Watch message carrying the big policy");
      expect(frames.map((f) => f.compressed)).toEqual(frames.map(() => 0));
      expect(frames[1]!.length).toBeGreaterThan(4096);
      stream.close();
    } finally {
      session.destroy();
    }
  });
});
