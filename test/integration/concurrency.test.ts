// Many clients doing read-modify-write on one policy at once: the etag check inside the write transaction lets exactly
// one writer win each round; the losers see ABORTED, read again and retry, and no update is lost.
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, test } from "vitest";
import { apiClients, type ApiClients } from "../helpers/clients.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const CLIENTS = 8;
const LOOPS = 5;
const MAX_ATTEMPTS_PER_WRITE = 200;
const RESOURCE = "organizations/contended";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  await server.grpc.resources.createResource({ resource: { name: RESOURCE } });
});
afterAll(() => server?.stop());

/** Resolves once `count` callers have arrived, so that they all hold the same etag before anyone writes. */
function barrier(count: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return () => {
    if (++arrived === count) open();
    return opened;
  };
}

/** Adds `member` to the owner binding with read-modify-write; returns the number of ABORTED attempts. */
async function addMember(clients: ApiClients, member: string, beforeFirstWrite?: () => Promise<void>): Promise<number> {
  let aborted = 0;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS_PER_WRITE; attempt++) {
    const policy = await clients.policies.getPolicy({ resource: RESOURCE });
    const members = policy.bindings.find((b) => b.role === "roles/owner")?.members ?? [];
    if (attempt === 1) await beforeFirstWrite?.();
    try {
      await clients.policies.setPolicy({
        resource: RESOURCE,
        policy: { etag: policy.etag, bindings: [{ role: "roles/owner", members: [...members, member] }] },
      });
      return aborted;
    } catch (e) {
      if (ConnectError.from(e).code !== Code.Aborted) throw e;
      aborted++;
    }
  }
  throw new Error(`${member} was not written in ${MAX_ATTEMPTS_PER_WRITE} attempts`);
}

test(`${CLIENTS} clients x ${LOOPS} read-modify-write loops: losers are ABORTED and retry, nothing is lost`, async () => {
  // Each client has its own connection; half speak gRPC over HTTP/2, half Connect over HTTP/1.1.
  const clients = Array.from({ length: CLIENTS }, (_, i) => apiClients(server.url, { protocol: i % 2 === 0 ? "grpc" : "connect" }));
  const everyoneHasRead = barrier(CLIENTS);
  const abortedPerClient = await Promise.all(
    clients.map(async (client, c) => {
      let aborted = 0;
      for (let loop = 0; loop < LOOPS; loop++) {
        aborted += await addMember(client, `user:c${c}-l${loop}@example.com`, loop === 0 ? everyoneHasRead : undefined);
      }
      return aborted;
    }),
  );

  const final = await server.grpc.policies.getPolicy({ resource: RESOURCE });
  const expected = clients.flatMap((_, c) => Array.from({ length: LOOPS }, (_, l) => `user:c${c}-l${l}@example.com`));
  expect(final.bindings).toHaveLength(1);
  expect([...final.bindings[0]!.members].sort()).toEqual(expected.sort());

  // In the first round all clients read the same etag before any wrote: exactly one can win it.
  const totalAborted = abortedPerClient.reduce((a, b) => a + b, 0);
  expect(totalAborted).toBeGreaterThanOrEqual(CLIENTS - 1);
});

test("concurrent etag-less writes of different policies all land", async () => {
  const names = Array.from({ length: CLIENTS }, (_, i) => `projects/parallel${i}`);
  await server.grpc.resources.createResource({ resource: { name: "clouds/parallel", parent: RESOURCE } });
  await Promise.all(names.map((name) => server.grpc.resources.createResource({ resource: { name, parent: "clouds/parallel" } })));
  await Promise.all(
    names.map((name, i) =>
      server.grpc.policies.setPolicy({ resource: name, policy: { bindings: [{ role: "roles/owner", members: [`user:p${i}@example.com`] }] } }),
    ),
  );
  for (const [i, name] of names.entries()) {
    const policy = await server.grpc.policies.getPolicy({ resource: name });
    expect(policy.bindings[0]?.members).toEqual([`user:p${i}@example.com`]);
  }
});

test("concurrent etag-less writes to one policy all succeed, and the result is one of them whole", async () => {
  // A resource of its own: the read-modify-write test counts every member of RESOURCE's policy.
  const RESOURCE = "organizations/overwritten";
  await server.grpc.resources.createResource({ resource: { name: RESOURCE } });
  const writes = Array.from({ length: CLIENTS }, (_, i) => [`user:w${i}a@example.com`, `user:w${i}b@example.com`]);
  await Promise.all(
    writes.map((members) =>
      server.connect.policies.setPolicy({ resource: RESOURCE, policy: { bindings: [{ role: "roles/owner", members }] } }),
    ),
  );
  const final = await server.grpc.policies.getPolicy({ resource: RESOURCE });
  expect(writes).toContainEqual(final.bindings[0]!.members);
});
