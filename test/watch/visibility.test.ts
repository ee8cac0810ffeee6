// A Watch stream is authorized change by change: a caller who may read the policies of part of a subtree sees the
// changes of that part only — writes, moves and deletes elsewhere never reach it — on every protocol and both ports.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ADMIN, apiClients, binding, signingKey, startTokenServer, tokenFor, type ApiClients, type SecureServer, type SigningKey } from "../security/support.js";
import { follow, grantPolicy } from "./support.js";

const ORG = "organizations/vis";
const SEEN_CLOUD = "clouds/vis_seen";
const HIDDEN_CLOUD = "clouds/vis_hidden";
const SEEN_PROJECT = "projects/vis_seen";
const HIDDEN_PROJECT = "projects/vis_hidden";

let key: SigningKey;
let server: SecureServer;
let admin: ApiClients;

beforeAll(async () => {
  key = await signingKey("ES256");
  server = await startTokenServer([key]);
  admin = apiClients(server.url, { token: await tokenFor(key, ADMIN.slice("user:".length)) });
  await admin.resources.createResource({ resource: { name: ORG } });
  for (const [cloud, project] of [[SEEN_CLOUD, SEEN_PROJECT], [HIDDEN_CLOUD, HIDDEN_PROJECT]] as const) {
    await admin.resources.createResource({ resource: { name: cloud, parent: ORG } });
    await admin.resources.createResource({ resource: { name: project, parent: cloud } });
  }
  // Ada owns one project (and so may read its policy); nothing else.
  await admin.policies.setPolicy({
    resource: SEEN_PROJECT,
    policy: { bindings: [binding("roles/owner", "user:ada@example.com")] },
  });
});

afterAll(async () => {
  await server?.stop();
});

describe.each(["connect", "grpc"] as const)("over %s", (protocol) => {
  test("a caller sees the changes of what it may read, and nothing of the rest of the subtree", async () => {
    const ada = apiClients(server.url, { token: await tokenFor(key, "ada@example.com"), protocol });
    const adaFollows = follow(ada.watch, { subtree: ORG });
    const adminFollows = follow(admin.watch, { subtree: ORG });
    await adaFollows.until((f) => f.messages.length > 0);
    await adminFollows.until((f) => f.messages.length > 0);

    const suffix = protocol === "grpc" ? "g" : "c";
    const hiddenNew = `projects/vis_hidden_new_${suffix}`;
    await admin.policies.setPolicy({ resource: HIDDEN_PROJECT, policy: grantPolicy(`user:h${suffix}@example.com`) });
    await admin.resources.createResource({ resource: { name: hiddenNew, parent: HIDDEN_CLOUD } });
    await admin.resources.deleteResource({ name: hiddenNew });
    const seen = await admin.policies.setPolicy({
      resource: SEEN_PROJECT,
      policy: { bindings: [binding("roles/owner", "user:ada@example.com"), binding("roles/readonly", `user:s${suffix}@example.com`)] },
    });

    await adminFollows.until((f) => f.changes().some((c) => c.resource === SEEN_PROJECT));
    await adaFollows.until((f) => f.changes().some((c) => c.resource === SEEN_PROJECT));
    const adaSaw = adaFollows.changes().map((c) => c.resource);
    expect(adaSaw).toEqual([SEEN_PROJECT]);
    expect(adaFollows.changes()[0]!.policy?.etag).toEqual(seen.etag);
    expect(adminFollows.changes().map((c) => c.resource)).toEqual([HIDDEN_PROJECT, hiddenNew, hiddenNew, SEEN_PROJECT]);
    await adaFollows.stop();
    await adminFollows.stop();
  });
});

test("resuming from the start, the caller's history holds only what it may read", async () => {
  const ada = apiClients(server.url, { token: await tokenFor(key, "ada@example.com") });
  const f = follow(ada.watch, { afterSequence: 0n });
  await f.until((x) => x.messages.some((m) => m.event.case === "progress"));
  const resources = new Set(f.changes().map((c) => c.resource));
  await f.stop();
  expect(resources.has(SEEN_PROJECT)).toBe(true);
  for (const hidden of [ORG, SEEN_CLOUD, HIDDEN_CLOUD, HIDDEN_PROJECT]) expect(resources.has(hidden), hidden).toBe(false);
});
