// What one Watch stream may cost the server is bounded: a reader that stops reading (a raw HTTP/2 client whose
// stream is paused, so HTTP/2 flow control holds the server's writes) under maximal policy writes is cut off with
// RESOURCE_EXHAUSTED naming the last sequence it was sent, on both ports, and resuming after it delivers exactly the
// rest; streams per caller and per server are bounded.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import http2 from "node:http2";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { WatchRequestSchema, WatchResponseSchema, type WatchResponse } from "../../gen/policy/v1/watch_service_pb.js";
import { apiClients } from "../helpers/clients.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import {
  ADMIN,
  AUDIENCE,
  ISSUER,
  signingKey,
  startSecureServer,
  tempDir,
  tokenFor,
  writeJwks,
  type SecureServer,
  type SigningKey,
} from "../helpers/secure-server.js";
import { PROJECT, follow, grantPolicy, makeTree } from "../helpers/watch.js";
import { waitFor } from "../helpers/wait.js";

const BUFFER_KB = 64;
/** A policy at the member limit (1,500): each change is some 50 KB. */
const maximalPolicy = (round: number) =>
  grantPolicy(...Array.from({ length: 1500 }, (_, i) => `user:member-${round}-${i}@example.com`));

async function metric(server: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ")[1] ?? NaN);
}

/** A Watch call over raw HTTP/2 whose reader is paused from the start: nothing is read until `resume`. */
function stalledWatch(authority: string) {
  const session = http2.connect(authority);
  const stream = session.request({
    ":method": "POST",
    ":path": "/policy.v1.WatchService/Watch",
    "content-type": "application/grpc",
    te: "trailers",
  });
  const body = toBinary(WatchRequestSchema, create(WatchRequestSchema, {}));
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  stream.end(frame);
  stream.pause();
  const chunks: Buffer[] = [];
  let trailers: http2.IncomingHttpHeaders = {};
  stream.on("trailers", (t) => (trailers = t));
  return {
    /** Reads everything the server sent, to the end of the call: the messages and the call's status. */
    async resume(): Promise<{ messages: WatchResponse[]; status: number; message: string }> {
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      const ended = new Promise<void>((resolve, reject) => {
        stream.on("end", resolve);
        stream.on("error", reject);
      });
      stream.resume();
      await ended;
      session.close();
      const bytes = Buffer.concat(chunks);
      const messages: WatchResponse[] = [];
      for (let at = 0; at < bytes.length; ) {
        const length = bytes.readUInt32BE(at + 1);
        messages.push(fromBinary(WatchResponseSchema, bytes.subarray(at + 5, at + 5 + length)));
        at += 5 + length;
      }
      return {
        messages,
        status: Number(trailers["grpc-status"]),
        message: decodeURIComponent(String(trailers["grpc-message"] ?? "")),
      };
    },
  };
}

describe("a Watch reader that stops reading", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ watchStreamBufferKb: BUFFER_KB });
    await makeTree(server.grpc);
  });

  afterAll(async () => {
    await server?.stop();
  });

  test.each(["main port (connect-node)", "gRPC port (grpc-js)"] as const)(
    "on the %s is cut off with RESOURCE_EXHAUSTED naming where to resume, and resuming gets exactly the rest",
    async (port) => {
      const authority = port.startsWith("main") ? server.url : `http://${server.grpcAddress}`;
      const cutBefore = await metric(server, "policy_watch_streams_cut_off_total");
      const stalled = stalledWatch(authority);
      // Maximal writes until the server reports the stream cut off (each write is one event it may be cut at).
      let round = 0;
      await waitFor(async () => {
        await server.grpc.policies.setPolicy({ resource: PROJECT, policy: maximalPolicy(round++) });
        return (await metric(server, "policy_watch_streams_cut_off_total")) > cutBefore ? true : undefined;
      }, "the stalled stream to be cut off");
      expect(round).toBeLessThan(200);
      // Written after the cut: the resumed stream must deliver these too.
      for (let i = 0; i < 3; i++) await server.grpc.policies.setPolicy({ resource: PROJECT, policy: maximalPolicy(1000 + i) });
      const { messages, status, message } = await stalled.resume();
      expect(status).toBe(Code.ResourceExhausted);
      const resumeAfter = Number(/after_sequence (\d+)/.exec(message)?.[1]);
      expect(message).toContain("--watch-stream-buffer-kb");
      // Everything received, in order with no gap, and the sequence named is the last one sent.
      expect(messages[0]!.event.case).toBe("progress");
      const start = Number((messages[0]!.event.value as { sequence: bigint }).sequence);
      const received = messages.slice(1).map((m) => Number((m.event.value as { sequence: bigint }).sequence));
      expect(received).toEqual(Array.from({ length: received.length }, (_, i) => start + 1 + i));
      expect(resumeAfter).toBe(received.at(-1) ?? start);
      // Every write since the stream started is one change: the newest is this one.
      const latest = start + round + 3;
      expect(resumeAfter).toBeLessThan(latest);

      const resumed = follow(server.grpc.watch, { afterSequence: BigInt(resumeAfter) });
      await resumed.until((f) => f.sequences().includes(latest), 30_000);
      await resumed.stop();
      expect(resumed.sequences()).toEqual(Array.from({ length: latest - resumeAfter }, (_, i) => resumeAfter + 1 + i));
    },
  );
});

describe("Watch streams are bounded per caller and per server", () => {
  let key: SigningKey;
  let server: SecureServer;

  beforeAll(async () => {
    key = await signingKey("ES256");
    const dir = tempDir();
    const jwks = await writeJwks(join(dir, "jwks.json"), [key]);
    server = await startSecureServer(
      { jwks, jwtIssuer: ISSUER, jwtAudience: AUDIENCE, admins: [ADMIN], watchStreamsPerCaller: 2, watchStreams: 3 },
      dir,
    );
  });

  afterAll(async () => {
    await server?.stop();
  });

  test("past either limit a new stream is RESOURCE_EXHAUSTED naming the flag; a closed stream frees its place at once", async () => {
    const as = async (email: string, protocol: "grpc" | "connect") =>
      apiClients(protocol === "grpc" ? `http://${server.grpcAddress}` : server.url, { token: await tokenFor(key, email), protocol });
    const ada = await as("ada@example.com", "grpc");
    const bob = await as("bob@example.com", "connect");
    // An hour between progress messages: a closed stream's place is freed by the call's end itself, not by the next
    // message the stream would send (and find no one to send it to).
    const hourly = { progressInterval: { seconds: 3600n } };
    const open = [follow(ada.watch, hourly), follow(ada.watch, hourly)];
    for (const f of open) await f.until((x) => x.messages.length > 0);

    const third = follow(ada.watch);
    await third.ended;
    expect(ConnectError.from(third.error()).code).toBe(Code.ResourceExhausted);
    expect(ConnectError.from(third.error()).rawMessage).toContain("--watch-streams-per-caller");

    const bobs = follow(bob.watch);
    await bobs.until((x) => x.messages.length > 0);
    const fourth = follow(bob.watch);
    await fourth.ended;
    expect(ConnectError.from(fourth.error()).code).toBe(Code.ResourceExhausted);
    expect(ConnectError.from(fourth.error()).rawMessage).toContain("the most it serves (--watch-streams)");

    await open[0]!.stop();
    await waitFor(async () => ((await (await fetch(`${server.url}/metrics`)).text()).includes("policy_watch_streams 2") ? true : undefined), "the stream's place to be freed");
    const again = follow(ada.watch);
    await again.until((x) => x.messages.length > 0);
    for (const f of [open[1]!, bobs, again]) await f.stop();
  });
});
