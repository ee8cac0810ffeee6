// Watch judges each change by the resource it was written to: a name deleted and created again does not hand the old
// resource's history to the new holder; a removed resource's history stays hidden by the deny rules it had; a move
// out of a watcher's scope reaches the watcher who could see the resource before it. Real servers, real clients, both
// ports.
import { toJsonString } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ChangeKind, ChangeSchema, type Change } from "../../gen/policy/v1/watch_service_pb.js";
import {
  ADMIN,
  PORTS,
  binding,
  clientsAs,
  signingKey,
  startTokenServer,
  uniqueId,
  type ApiClients,
  type Port,
  type SecureServer,
  type SigningKey,
} from "../helpers/secure-server.js";
import { follow, type WatchClient } from "../helpers/watch.js";

let key: SigningKey;
let server: SecureServer;
let admin: ApiClients;

beforeAll(async () => {
  key = await signingKey("ES256");
  server = await startTokenServer([key]);
  admin = await clientsAs(server, key, ADMIN.slice("user:".length));
});

afterAll(async () => {
  await server?.stop();
});

/** The sequence the change log is at now, as a stream that starts now says it. */
async function positionNow(watch: WatchClient): Promise<bigint> {
  const f = follow(watch);
  await f.until((x) => x.messages.length > 0);
  await f.stop();
  const first = f.messages[0]!.event;
  if (first.case !== "progress") throw new Error(`expected a progress first, got ${first.case}`);
  return first.value.sequence;
}

/** An organization made by the administrator, whose owners are `owners` (emails). */
async function organization(...owners: string[]): Promise<string> {
  const org = `organizations/${uniqueId("org")}`;
  await admin.resources.createResource({ resource: { name: org } });
  if (owners.length > 0) {
    await admin.policies.setPolicy({ resource: org, policy: { bindings: [binding("roles/owner", ...owners.map((o) => `user:${o}`))] } });
  }
  return org;
}

const kinds = (changes: Change[]) => changes.map((c) => ChangeKind[c.kind]);
const about = (changes: Change[], resource: string) => changes.filter((c) => c.resource === resource);
const text = (changes: Change[]) => changes.map((c) => toJsonString(ChangeSchema, c)).join("\n");

describe.each(PORTS)("over the %s", (port: Port) => {
  const as = (email: string) => clientsAs(server, key, email, port);

  test("a name deleted and created again by another organization's owner replays none of the old resource's history", async () => {
    const suffix = uniqueId("u");
    const [alice, bob] = [`alice-${suffix}@example.com`, `bob-${suffix}@example.com`];
    const [first, second] = [await organization(alice), await organization(bob)];
    const project = `projects/${uniqueId("reused")}`;
    const from = await positionNow(admin.watch);
    const asAlice = await as(alice);
    await asAlice.resources.createResource({ resource: { name: project, parent: first } });
    await asAlice.policies.setPolicy({ resource: project, policy: { bindings: [binding("roles/readonly", `user:old-member-${suffix}@example.com`)] } });
    await asAlice.denyPolicies.setDenyPolicy({
      resource: project,
      denyPolicy: { rules: [{ description: `old rule ${suffix}`, deniedPrincipals: [`user:x-${suffix}@example.com`], deniedPermissions: ["projects.delete"] }] },
    });
    await asAlice.resources.deleteResource({ name: project });
    // Bob takes the name in his own organization.
    const asBob = await as(bob);
    await asBob.resources.createResource({ resource: { name: project, parent: second } });
    await asBob.policies.setPolicy({ resource: project, policy: { bindings: [binding("roles/readonly", `user:new-member-${suffix}@example.com`)] } });

    const bobReplays = follow(asBob.watch, { afterSequence: from });
    await bobReplays.until((f) => f.changes().some((c) => c.kind === ChangeKind.POLICY_SET && c.resource === project));
    await bobReplays.stop();
    const bobSaw = about(bobReplays.changes(), project);
    expect(kinds(bobSaw)).toEqual(["RESOURCE_CREATED", "POLICY_SET"]);
    expect(bobSaw.map((c) => c.parent)).toEqual([second, second]);
    expect(text(bobReplays.changes())).not.toContain("old-member");
    expect(text(bobReplays.changes())).not.toContain("old rule");

    // Alice, owner of the organization the old resource was deleted from, learns of its deletion — and of nothing
    // else of it now that the name is another resource's: a removed resource's history is administrators' only.
    const marker = `projects/${uniqueId("marker")}`;
    await admin.resources.createResource({ resource: { name: marker, parent: first } });
    const aliceReplays = follow(asAlice.watch, { afterSequence: from });
    await aliceReplays.until((f) => f.changes().some((c) => c.resource === marker));
    await aliceReplays.stop();
    const aliceSaw = about(aliceReplays.changes(), project);
    expect(kinds(aliceSaw)).toEqual(["RESOURCE_DELETED"]);
    expect(aliceSaw[0]!.parent).toBe(first);
    expect(text(aliceReplays.changes())).not.toContain("new-member");

    // The administrator sees both resources' whole history.
    const adminReplays = follow(admin.watch, { afterSequence: from });
    await adminReplays.until((f) => about(f.changes(), project).length === 6);
    await adminReplays.stop();
    expect(kinds(about(adminReplays.changes(), project))).toEqual([
      "RESOURCE_CREATED", "POLICY_SET", "DENY_POLICY_SET", "RESOURCE_DELETED", "RESOURCE_CREATED", "POLICY_SET",
    ]);
  });

  test("a deny rule on a resource keeps hiding its history once the resource is deleted", async () => {
    const suffix = uniqueId("d");
    const [carol, dave] = [`carol-${suffix}@example.com`, `dave-${suffix}@example.com`];
    const org = await organization(carol, dave);
    const project = `projects/${uniqueId("denied")}`;
    const from = await positionNow(admin.watch);
    await admin.resources.createResource({ resource: { name: project, parent: org } });
    await admin.denyPolicies.setDenyPolicy({
      resource: project,
      denyPolicy: { rules: [{ deniedPrincipals: [`user:${dave}`], deniedPermissions: ["projects.getPolicy", "projects.getDenyPolicy"] }] },
    });
    await admin.policies.setPolicy({ resource: project, policy: { bindings: [binding("roles/readonly", `user:hidden-${suffix}@example.com`)] } });
    await admin.resources.deleteResource({ name: project });
    const marker = `projects/${uniqueId("marker")}`;
    await admin.resources.createResource({ resource: { name: marker, parent: org } });

    const seenBy = async (email: string) => {
      const f = follow((await as(email)).watch, { afterSequence: from });
      await f.until((x) => x.changes().some((c) => c.resource === marker));
      await f.stop();
      return f.changes();
    };
    const daveSaw = await seenBy(dave);
    expect(about(daveSaw, project)).toEqual([]);
    expect(text(daveSaw)).not.toContain("hidden-");
    // Carol, another owner, learns the project is gone; its content went with it.
    const carolSaw = await seenBy(carol);
    expect(kinds(about(carolSaw, project))).toEqual(["RESOURCE_DELETED"]);
    expect(text(carolSaw)).not.toContain("hidden-");
  });

  test("a move out of a watcher's scope reaches the watcher who could see the resource before it, live and replayed", async () => {
    const henry = `henry-${uniqueId("m")}@example.com`;
    const [mine, elsewhere] = [await organization(henry), await organization()];
    const cloud = `clouds/${uniqueId("c")}`;
    const project = `projects/${uniqueId("moved")}`;
    await admin.resources.createResource({ resource: { name: cloud, parent: mine } });
    await admin.resources.createResource({ resource: { name: project, parent: cloud } });
    const asHenry = await as(henry);
    const live = follow(asHenry.watch, { subtree: mine });
    await live.until((f) => f.messages.length > 0);
    await admin.policies.setPolicy({ resource: project, policy: { bindings: [binding("roles/readonly", "user:reader@example.com")] } });
    // Judged when delivered: received before the move, as a follower that keeps up receives it.
    await live.until((f) => about(f.changes(), project).length === 1);
    await admin.resources.updateResource({ resource: { name: project, parent: elsewhere }, updateMask: { paths: ["parent"] } });
    // What happens to it out there is none of Henry's business.
    await admin.policies.setPolicy({ resource: project, policy: { bindings: [binding("roles/readonly", "user:later@example.com")] } });
    await admin.policies.setPolicy({ resource: cloud, policy: { bindings: [binding("roles/readonly", "user:marker@example.com")] } });
    await live.until((f) => f.changes().some((c) => c.resource === cloud));
    await live.stop();
    const moved = about(live.changes(), project);
    expect(kinds(moved)).toEqual(["POLICY_SET", "RESOURCE_MOVED"]);
    expect(moved[1]).toMatchObject({ parent: elsewhere, previousParent: cloud });

    // Deleted out there, it is another resource's history no more: replayed, the move still reaches Henry.
    await admin.resources.deleteResource({ name: project });
    await admin.policies.setPolicy({ resource: cloud, policy: { bindings: [binding("roles/readonly", "user:marker2@example.com")] } });
    const replay = follow(asHenry.watch, { subtree: mine, afterSequence: moved[0]!.sequence - 1n });
    await replay.until((f) => f.changes().filter((c) => c.resource === cloud).length === 2);
    await replay.stop();
    const replayed = about(replay.changes(), project);
    expect(kinds(replayed)).toEqual(["RESOURCE_MOVED"]);
    expect(replayed[0]).toMatchObject({ parent: elsewhere, previousParent: cloud });
  });
});
