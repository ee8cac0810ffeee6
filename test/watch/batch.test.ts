// Batched Watch (WatchRequest.batch): each delivery turn is one ChangeBatch. A batched stream carries exactly the
// changes an unbatched one does, in the same order, authorized change by change in the same way, live and replayed,
// on both ports; a client that does not ask for batches (as old clients do not) receives one change per message.
import { toJson } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ChangeSchema, type WatchResponse } from "../../gen/policy/v1/watch_service_pb.js";
import { eventsOf } from "../../src/client/watch.js";
import {
  ADMIN,
  PORTS,
  apiClients,
  binding,
  clientsAs,
  signingKey,
  startTokenServer,
  tokenFor,
  type ApiClients,
  type SecureServer,
  type SigningKey,
} from "../helpers/secure-server.js";
import { follow, seenAndHiddenTree, treeNames, type Follower } from "../helpers/watch.js";

const TREE = treeNames("batch");
const { org: ORG, hiddenCloud: HIDDEN_CLOUD, seenProject: SEEN_PROJECT, hiddenProject: HIDDEN_PROJECT } = TREE;
const ADA = "ada@example.com";

let key: SigningKey;
let server: SecureServer;
let admin: ApiClients;

beforeAll(async () => {
  key = await signingKey("ES256");
  server = await startTokenServer([key]);
  admin = apiClients(server.url, { token: await tokenFor(key, ADMIN.slice("user:".length)) });
  await seenAndHiddenTree(admin, TREE);
});

afterAll(async () => {
  await server?.stop();
});

/** Writes of several kinds, some Ada may see and some not, several at once (so that a turn holds more than one). */
async function writes(tag: string): Promise<void> {
  const member = (n: number) => `user:${tag}-${n}@example.com`;
  await Promise.all([
    admin.policies.setPolicy({ resource: HIDDEN_PROJECT, policy: { bindings: [binding("roles/readonly", member(1))] } }),
    admin.policies.setPolicy({ resource: SEEN_PROJECT, policy: { bindings: [binding("roles/owner", `user:${ADA}`), binding("roles/readonly", member(2))] } }),
    admin.denyPolicies.setDenyPolicy({
      resource: SEEN_PROJECT,
      denyPolicy: { rules: [{ description: tag, deniedPrincipals: [member(3)], deniedPermissions: ["projects.delete"] }] },
    }),
  ]);
  const extra = `projects/batch_${tag}`;
  await admin.resources.createResource({ resource: { name: extra, parent: HIDDEN_CLOUD } });
  await admin.resources.deleteResource({ name: extra });
  await admin.policies.setPolicy({ resource: ORG, policy: { bindings: [binding("roles/owner", member(4))] } });
  // The last write, which everyone here may see: a follower that has it has everything before it.
  await admin.policies.setPolicy({ resource: SEEN_PROJECT, policy: { bindings: [binding("roles/owner", `user:${ADA}`), binding("roles/readonly", member(5))] } });
}

const json = (f: Follower) => f.changes().map((c) => toJson(ChangeSchema, c));
const hasLast = (tag: string) => (f: Follower) =>
  f.changes().some((c) => c.resource === SEEN_PROJECT && c.policy?.bindings.some((b) => b.members.includes(`user:${tag}-5@example.com`)));

function expectBatched(f: Follower): void {
  const carrying = f.messages.filter((m) => m.event.case !== "progress");
  expect(carrying.every((m) => m.event.case === "batch")).toBe(true);
  for (const m of carrying) {
    if (m.event.case !== "batch") continue;
    expect(m.event.value.changes.length).toBeGreaterThan(0);
    expect(m.event.value.lastSequence).toBeGreaterThanOrEqual(m.event.value.changes.at(-1)!.sequence);
  }
}

function expectSingle(f: Follower): void {
  expect(f.messages.every((m) => m.event.case === "change" || m.event.case === "progress")).toBe(true);
}

describe.each(PORTS)("over the %s", (port) => {
  test("a batched stream delivers the changes an unbatched one does, in order, filtered the same, live and replayed", async () => {
    const tag = port.startsWith("main") ? "m" : "g";
    const callers = { admin: await clientsAs(server, key, ADMIN.slice("user:".length), port), ada: await clientsAs(server, key, ADA, port) };
    const live = Object.fromEntries(
      Object.entries(callers).map(([who, c]) => [who, { batched: follow(c.watch, { subtree: ORG, batch: true }), single: follow(c.watch, { subtree: ORG }) }]),
    );
    for (const pair of Object.values(live)) for (const f of Object.values(pair)) await f.until((x) => x.messages.length > 0);

    await writes(tag);

    for (const [who, c] of Object.entries(callers)) {
      const replayed = { batched: follow(c.watch, { afterSequence: 0n, batch: true }), single: follow(c.watch, { afterSequence: 0n }) };
      for (const [mode, streams] of [["live", live[who]!], ["replayed", replayed]] as const) {
        for (const f of Object.values(streams)) await f.until(hasLast(tag));
        for (const f of Object.values(streams)) await f.stop();
        expect(json(streams.batched), `${who}, ${mode}`).toEqual(json(streams.single));
        expectBatched(streams.batched);
        expectSingle(streams.single);
      }
      // A replay reads up to hundreds of changes per turn: its batches hold many.
      expect(replayed.batched.messages.some((m) => m.event.case === "batch" && m.event.value.changes.length > 1)).toBe(true);
    }
    // Authorization is per change in both modes: Ada sees her project's changes and nothing of the rest.
    const adaSaw = new Set(live.ada!.batched.changes().map((c) => c.resource));
    expect([...adaSaw]).toEqual([SEEN_PROJECT]);
    expect(new Set(live.admin!.batched.changes().map((c) => c.resource))).toEqual(
      new Set([HIDDEN_PROJECT, SEEN_PROJECT, `projects/batch_${tag}`, ORG]),
    );
  });
});

test("the SDK's follower reads a batch as its changes, then the batch's position when it covers more", () => {
  const message = (event: WatchResponse["event"]) => ({ event }) as WatchResponse;
  const change = (sequence: bigint) => ({ sequence }) as never;
  const events = eventsOf(message({ case: "batch", value: { changes: [change(4n), change(6n)], lastSequence: 9n } as never }));
  expect(events.map((e) => [e.kind, e.sequence, e.kind === "change" ? e.endOfBatch : undefined])).toEqual([
    ["change", 4n, false],
    ["change", 6n, true],
    ["progress", 9n, undefined],
  ]);
  expect(eventsOf(message({ case: "batch", value: { changes: [change(7n)], lastSequence: 7n } as never })).map((e) => e.kind)).toEqual(["change"]);
  expect(eventsOf(message({ case: "change", value: change(3n) })).map((e) => e.kind)).toEqual(["change"]);
});
