// The main port's `grpc-message` encoding: gRPC's Status-Message percent-encoding, which decodes back to the message
// both with decodeURI (grpc-js clients) and with decodeURIComponent (connect-es and most other clients).
import { expect, test } from "vitest";
import { encodeGrpcMessage } from "../../src/rpc/grpc-message.js";

const MESSAGES = [
  'resource "projects/prj_x" not found; register it with ResourceService.CreateResource',
  "policy.bindings[0].members[0]: \"jürgen:%41/é;?#,&=+$@x\" is not a member",
  "100% done, 日本語, emoji 🙂, tab\tand newline\n",
  "",
];

test.each(MESSAGES)("%j decodes back with decodeURI and with decodeURIComponent", (message) => {
  const encoded = encodeGrpcMessage(message);
  expect(encoded).toMatch(/^[\x20-\x7e]*$/);
  expect(decodeURI(encoded)).toBe(message);
  expect(decodeURIComponent(encoded)).toBe(message);
});

test("only percent and bytes outside printable ASCII are escaped", () => {
  expect(encodeGrpcMessage('a/b:c;d,e "f" ~')).toBe('a/b:c;d,e "f" ~');
  expect(encodeGrpcMessage("50%")).toBe("50%25");
  expect(encodeGrpcMessage("é\n")).toBe("%C3%A9%0A");
});
