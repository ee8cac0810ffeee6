// A response many Watch streams send is framed once (grpc-js-framed.ts): its gRPC frame is exactly what grpc-js would
// have made, it is made once per message, only for a frozen message whose encoding is known, and grpc-js sends it as
// it is while every other response still goes through grpc-js's own framing.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BaseServerInterceptingCall } from "@grpc/grpc-js/build/src/server-interceptors.js";
import { expect, test } from "vitest";
import { WatchResponseSchema } from "../../gen/policy/v1/watch_service_pb.js";
import { carrierOf } from "../../src/frozen-encoding.js";
import { FramedResponse, framedResponseOf, sendFramedResponses } from "../../src/rpc/grpc-js-framed.js";

const progress = (sequence: bigint) => create(WatchResponseSchema, { event: { case: "progress", value: { sequence } } });

test("a carrier of shared bytes is framed once: flag 0, its length, its bytes", () => {
  const encoded = toBinary(WatchResponseSchema, progress(42n));
  const carrier = carrierOf(WatchResponseSchema, encoded);
  const framed = framedResponseOf(carrier)!;
  expect(framed.bytes[0]).toBe(0);
  expect(framed.bytes.readUInt32BE(1)).toBe(encoded.length);
  expect(fromBinary(WatchResponseSchema, framed.bytes.subarray(5)).event).toEqual({ case: "progress", value: expect.objectContaining({ sequence: 42n }) });
  expect(framedResponseOf(carrier)).toBe(framed);
});

test("a message of its own (not frozen, no known encoding) is left to grpc-js", () => {
  expect(framedResponseOf(progress(1n))).toBeUndefined();
});

test("grpc-js sends a FramedResponse as its bytes and frames anything else itself", () => {
  sendFramedResponses();
  sendFramedResponses();
  const serialize = (BaseServerInterceptingCall.prototype as unknown as { serializeMessage: (v: unknown) => Buffer }).serializeMessage;
  const framed = new FramedResponse(Buffer.from([0, 0, 0, 0, 1, 7]));
  expect(serialize.call({}, framed)).toBe(framed.bytes);
  // grpc-js's own path: the handler's serializer, then its frame.
  const own = serialize.call({ handler: { serialize: () => Buffer.from([9, 9]) } }, "message");
  expect([...own]).toEqual([0, 0, 0, 0, 2, 9, 9]);
});
