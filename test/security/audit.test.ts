// The audit log: every write (resource created, updated, deleted; policy set, deleted) is one entry with its author,
// its action and the etags before and after, in commit order; ListAuditEntries filters by principal and time, pages
// with a token, and needs `audit.list` on the resource.
import { timestampDate, timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { AuditEntry } from "../../gen/policy/v1/audit_service_pb.js";
import { AuditLogConfig_LogType } from "../../gen/policy/v1/policy_pb.js";
import {
  ADMIN,
  apiClients,
  binding,
  capturingLogger,
  expectCode,
  signingKey,
  startTokenServer,
  tokenFor,
  uniqueId,
  type ApiClients,
  type SecureServer,
  type SigningKey,
} from "../helpers/secure-server.js";
import { waitFor } from "../helpers/wait.js";

let server: SecureServer;
let key: SigningKey;
let admin: ApiClients;
let owner: ApiClients;
const OWNER = "user:olivia@example.com";
const tokens: string[] = [];

const as = async (email: string): Promise<ApiClients> => {
  const token = await tokenFor(key, email);
  tokens.push(token);
  return apiClients(server.url, { token });
};
const bytes = (etag: string) => new Uint8Array(Buffer.from(etag, "base64"));
const ms = (t: Timestamp | undefined) => timestampDate(t!).getTime();

beforeAll(async () => {
  key = await signingKey("ES256");
  server = await startTokenServer([key]);
  admin = await as("root@example.com");
  owner = await as("olivia@example.com");
});
afterAll(async () => {
  await server?.stop();
});

/** Every entry of `resource`, following page tokens with pages of `pageSize`. */
async function allEntries(resource: string, pageSize = 1000): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let pageToken = "";
  do {
    const page = await admin.audit.listAuditEntries({ resource, pageSize, pageToken });
    entries.push(...page.entries);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return entries;
}

describe("every write is recorded with its author, action and etags, in order", () => {
  let org: string;
  let cloud: string;
  let project: string;

  beforeAll(async () => {
    org = `organizations/${uniqueId("aud")}`;
    cloud = `clouds/${uniqueId("aud")}`;
    project = `projects/${uniqueId("aud")}`;
    await admin.resources.createResource({ resource: { name: org } });
    await admin.policies.setPolicy({ resource: org, policy: { bindings: [binding("roles/owner", OWNER)] } });
  });

  test("resource create, update, delete and policy set, delete", async () => {
    const created = await owner.resources.createResource({ resource: { name: cloud, parent: org } });
    const renamed = await owner.resources.updateResource({
      resource: { name: cloud, displayName: "Cloud", etag: created.etag },
      updateMask: { paths: ["display_name"] },
    });
    const empty = await owner.policies.getPolicy({ resource: cloud });
    const set = await owner.policies.setPolicy({ resource: cloud, policy: { etag: empty.etag, bindings: [binding("roles/readonly", "user:rita@example.com")] } });
    const reset = await admin.policies.setPolicy({ resource: cloud, policy: { etag: set.etag, bindings: [binding("roles/collaborator", "user:rita@example.com")] } });
    const deleted = await owner.policies.deletePolicy({ resource: cloud, etag: reset.etag });
    const removed = await owner.resources.deleteResource({ name: cloud, etag: renamed.etag });
    expect(removed.deleted).toEqual([cloud]);

    const entries = await allEntries(cloud);
    expect(entries.map((e) => [e.action, e.principal, e.resource])).toEqual([
      ["resource.create", OWNER, cloud],
      ["resource.update", OWNER, cloud],
      ["policy.set", OWNER, cloud],
      ["policy.set", ADMIN, cloud],
      ["policy.delete", OWNER, cloud],
      ["resource.delete", OWNER, cloud],
    ]);
    expect(entries.map((e) => [e.etagBefore, e.etagAfter])).toEqual([
      [new Uint8Array(), bytes(created.etag)],
      [bytes(created.etag), bytes(renamed.etag)],
      [empty.etag, set.etag],
      [set.etag, reset.etag],
      [reset.etag, deleted.etag],
      [bytes(renamed.etag), new Uint8Array()],
    ]);
    // Commit order: strictly increasing sequences, non-decreasing times.
    for (let i = 1; i < entries.length; i++) {
      expect(entries[i]!.sequence).toBeGreaterThan(entries[i - 1]!.sequence);
      expect(ms(entries[i]!.time)).toBeGreaterThanOrEqual(ms(entries[i - 1]!.time));
    }
    // The delete's response sequence is the sequence of its entry.
    expect(entries.at(-1)!.sequence).toBe(removed.sequence);
  });

  test("a move and a cascade delete are recorded on each resource they touch", async () => {
    const otherCloud = `clouds/${uniqueId("aud")}`;
    await owner.resources.createResource({ resource: { name: otherCloud, parent: org } });
    await owner.resources.createResource({ resource: { name: project, parent: org } });
    await owner.resources.updateResource({ resource: { name: project, parent: otherCloud }, updateMask: { paths: ["parent"] } });
    await admin.resources.deleteResource({ name: otherCloud, cascade: true });
    expect((await allEntries(project)).map((e) => [e.action, e.principal])).toEqual([
      ["resource.create", OWNER],
      ["resource.update", OWNER],
      ["resource.delete", ADMIN],
    ]);
    expect((await allEntries(otherCloud)).map((e) => e.action)).toEqual(["resource.create", "resource.delete"]);
  });

  test("refused and invalid writes leave no entry", async () => {
    const before = await allEntries(org);
    const outsider = await as("eve@example.com");
    await expectCode(outsider.policies.setPolicy({ resource: org, policy: { bindings: [binding("roles/owner", "user:eve@example.com")] } }), Code.NotFound);
    await expectCode(owner.policies.setPolicy({ resource: org, policy: { bindings: [binding("roles/nope", "user:eve@example.com")] } }), Code.InvalidArgument);
    await expectCode(owner.policies.setPolicy({ resource: org, policy: { etag: new Uint8Array([1, 2, 3]), bindings: [] } }), Code.Aborted);
    await expectCode(apiClients(server.url).policies.deletePolicy({ resource: org }), Code.Unauthenticated);
    expect(await allEntries(org)).toEqual(before);
  });
});

/** Resolves once the clock has moved past the current millisecond: the next write's entry has a later time. */
async function nextMillisecond(): Promise<void> {
  const now = Date.now();
  await waitFor(() => Date.now() > now, "the clock's next millisecond", { intervalMs: 1 });
}

describe("filters and pages", () => {
  let org: string;
  /** Written alternately by the owner and the administrator, each in a later millisecond than the one before. */
  let entries: AuditEntry[];

  beforeAll(async () => {
    org = `organizations/${uniqueId("page")}`;
    await admin.resources.createResource({ resource: { name: org } });
    await nextMillisecond();
    for (let i = 0; i < 6; i++) {
      const writer = i % 2 === 0 ? admin : owner;
      await writer.policies.setPolicy({
        resource: org,
        policy: { bindings: [binding("roles/owner", OWNER), binding("roles/collaborator", `user:u${i}@example.com`)] },
      });
      await nextMillisecond();
    }
    entries = await allEntries(org);
    expect(entries).toHaveLength(7);
  });

  test("by principal", async () => {
    const byOwner = await admin.audit.listAuditEntries({ resource: org, principal: OWNER });
    expect(byOwner.entries).toEqual(entries.filter((e) => e.principal === OWNER));
    expect(byOwner.entries).toHaveLength(3);
    const byAdmin = await admin.audit.listAuditEntries({ resource: org, principal: ADMIN });
    expect(byAdmin.entries).toHaveLength(4);
    expect((await admin.audit.listAuditEntries({ resource: org, principal: "user:nobody@example.com" })).entries).toEqual([]);
  });

  test("by time range: start inclusive, end exclusive", async () => {
    const t = entries.map((e) => ms(e.time));
    expect(new Set(t).size).toBe(t.length);
    const between = await admin.audit.listAuditEntries({ resource: org, startTime: timestampFromMs(t[2]!), endTime: timestampFromMs(t[5]!) });
    expect(between.entries).toEqual(entries.slice(2, 5));
    const after = await admin.audit.listAuditEntries({ resource: org, startTime: timestampFromMs(t[4]!) });
    expect(after.entries).toEqual(entries.slice(4));
    const before = await admin.audit.listAuditEntries({ resource: org, endTime: timestampFromMs(t[1]!) });
    expect(before.entries).toEqual(entries.slice(0, 1));
    const future = await admin.audit.listAuditEntries({ resource: org, startTime: timestampFromMs(Date.now() + 60_000) });
    expect(future.entries).toEqual([]);
    // Principal and time together.
    const both = await admin.audit.listAuditEntries({ resource: org, principal: OWNER, startTime: timestampFromMs(t[3]!) });
    expect(both.entries).toEqual(entries.slice(3).filter((e) => e.principal === OWNER));
  });

  test("pages follow a page token; the token is bound to its filters", async () => {
    const first = await admin.audit.listAuditEntries({ resource: org, pageSize: 3 });
    expect(first.entries).toEqual(entries.slice(0, 3));
    expect(first.nextPageToken).not.toBe("");
    const second = await admin.audit.listAuditEntries({ resource: org, pageSize: 3, pageToken: first.nextPageToken });
    expect(second.entries).toEqual(entries.slice(3, 6));
    const third = await admin.audit.listAuditEntries({ resource: org, pageSize: 3, pageToken: second.nextPageToken });
    expect(third.entries).toEqual(entries.slice(6));
    expect(third.nextPageToken).toBe("");
    expect(await allEntries(org, 2)).toEqual(entries);

    // Filtered pages.
    const ownerFirst = await admin.audit.listAuditEntries({ resource: org, principal: OWNER, pageSize: 2 });
    const ownerRest = await admin.audit.listAuditEntries({ resource: org, principal: OWNER, pageSize: 2, pageToken: ownerFirst.nextPageToken });
    expect([...ownerFirst.entries, ...ownerRest.entries]).toEqual(entries.filter((e) => e.principal === OWNER));

    // A token used with other filters, a forged token and a negative page size are refused.
    await expectCode(admin.audit.listAuditEntries({ resource: org, principal: ADMIN, pageToken: first.nextPageToken }), Code.InvalidArgument);
    await expectCode(admin.audit.listAuditEntries({ resource: `organizations/${uniqueId("x")}`, pageToken: first.nextPageToken }), Code.InvalidArgument);
    await expectCode(admin.audit.listAuditEntries({ resource: org, pageToken: "Zm9yZ2Vk" }), Code.InvalidArgument);
    await expectCode(admin.audit.listAuditEntries({ resource: org, pageSize: -1 }), Code.InvalidArgument);
  });

  test("invalid resource names are INVALID_ARGUMENT", async () => {
    await expectCode(admin.audit.listAuditEntries({ resource: "" }), Code.InvalidArgument);
    await expectCode(admin.audit.listAuditEntries({ resource: "galaxies/x" }), Code.InvalidArgument);
  });
});

describe("ListAuditEntries needs audit.list", () => {
  test("owners (also of an ancestor) may read; collaborators may not; outsiders are told it does not exist", async () => {
    const org = `organizations/${uniqueId("perm")}`;
    const project = `projects/${uniqueId("perm")}`;
    await admin.resources.createResource({ resource: { name: org } });
    await admin.resources.createResource({ resource: { name: project, parent: org } });
    await admin.policies.setPolicy({
      resource: org,
      policy: { bindings: [binding("roles/owner", OWNER), binding("roles/collaborator", "user:carl@example.com"), binding("roles/checker", "serviceAccount:chk@example.com")] },
    });
    await admin.policies.setPolicy({ resource: project, policy: { bindings: [binding("roles/owner", "user:pete@example.com")] } });

    expect((await owner.audit.listAuditEntries({ resource: project })).entries.length).toBe(2);
    expect((await owner.audit.listAuditEntries({ resource: org })).entries.length).toBe(2);
    const projectOwner = await as("pete@example.com");
    expect((await projectOwner.audit.listAuditEntries({ resource: project })).entries.length).toBe(2);
    await expectCode(projectOwner.audit.listAuditEntries({ resource: org }), Code.NotFound);

    const collaborator = await as("carl@example.com");
    await expectCode(collaborator.audit.listAuditEntries({ resource: org }), Code.PermissionDenied, /lacks permission "audit.list" on/);
    await expectCode(collaborator.audit.listAuditEntries({ resource: project }), Code.PermissionDenied, /lacks permission "audit.list" on/);
    await expectCode((await as("eve@example.com")).audit.listAuditEntries({ resource: project }), Code.NotFound);
    await expectCode(apiClients(server.url).audit.listAuditEntries({ resource: project }), Code.Unauthenticated);
  });
});

test("history follows the resource, not the name: a new owner of a reused name sees none of its predecessor's", async () => {
  const first = `organizations/${uniqueId("hist")}`;
  const second = `organizations/${uniqueId("hist")}`;
  const project = `projects/${uniqueId("reused")}`;
  const newOwner = await as("nora@example.com");
  for (const org of [first, second]) await admin.resources.createResource({ resource: { name: org } });
  await admin.policies.setPolicy({ resource: second, policy: { bindings: [binding("roles/owner", "user:nora@example.com")] } });
  await admin.resources.createResource({ resource: { name: project, parent: first } });
  await admin.policies.setPolicy({ resource: project, policy: { bindings: [binding("roles/readonly", "user:secret@example.com")] } });
  await admin.resources.deleteResource({ name: project });
  await newOwner.resources.createResource({ resource: { name: project, parent: second } });

  const seen = (await newOwner.audit.listAuditEntries({ resource: project })).entries;
  expect(seen.map((e) => e.action)).toEqual(["resource.create"]);
  expect(seen[0]!.principal).toBe("user:nora@example.com");
  // Administrators keep the whole history of the name, deleted predecessors included.
  const everything = (await admin.audit.listAuditEntries({ resource: project })).entries;
  expect(everything.map((e) => e.action)).toEqual(["resource.create", "policy.set", "resource.delete", "resource.create"]);
});

test("no token is stored: the database holds principals, never credentials", async () => {
  const org = `organizations/${uniqueId("secret")}`;
  await admin.resources.createResource({ resource: { name: org } });
  const stored = readdirSync(server.dir)
    .filter((f) => f.startsWith("policy.db"))
    .map((f) => readFileSync(join(server.dir, f)).toString("latin1"))
    .join("\n");
  expect(stored).toContain("user:root@example.com");
  expect(tokens.length).toBeGreaterThan(0);
  for (const token of tokens) {
    const signature = token.split(".")[2]!;
    expect(stored).not.toContain(signature);
  }
});

describe("AuditConfig: reads", () => {
  test("reads are logged as the audit configs of the resource or an ancestor ask, except for exempted members", async () => {
    const { logger, lines } = capturingLogger();
    const logged = await startTokenServer([key], logger);
    try {
      const client = async (email: string) => apiClients(logged.url, { token: await tokenFor(key, email) });
      const root = await client("root@example.com");
      const org = `organizations/${uniqueId("reads")}`;
      const project = `projects/${uniqueId("reads")}`;
      await root.resources.createResource({ resource: { name: org } });
      await root.resources.createResource({ resource: { name: project, parent: org } });
      await root.policies.setPolicy({
        resource: org,
        policy: {
          bindings: [binding("roles/owner", OWNER, "user:quiet@example.com")],
          auditConfigs: [
            {
              service: "allServices",
              auditLogConfigs: [
                { logType: AuditLogConfig_LogType.ADMIN_READ, exemptedMembers: ["user:quiet@example.com"] },
                { logType: AuditLogConfig_LogType.DATA_READ },
              ],
            },
          ],
        },
        updateMask: { paths: ["bindings", "audit_configs"] },
      });
      const reads = () => lines.filter((l) => l.audit === "read");

      const olivia = await client("olivia@example.com");
      await olivia.policies.getPolicy({ resource: project });
      await olivia.policies.testIamPermissions({ resource: org, permissions: ["organizations.getPolicy"] });
      const quiet = await client("quiet@example.com");
      await quiet.resources.getResource({ name: project });
      await quiet.policies.testIamPermissions({ resource: project, permissions: ["projects.get"] });

      expect(reads().map((l) => [l.principal, l.procedure, l.resource, l.logType])).toEqual([
        [OWNER, "policy.v1.PolicyService/GetPolicy", project, "ADMIN_READ"],
        [OWNER, "policy.v1.PolicyService/TestIamPermissions", org, "DATA_READ"],
        // quiet@ is exempted from ADMIN_READ only.
        ["user:quiet@example.com", "policy.v1.PolicyService/TestIamPermissions", project, "DATA_READ"],
      ]);
      // Reads are not writes: the change log did not grow.
      expect((await root.audit.listAuditEntries({ resource: project })).entries.map((e) => e.action)).toEqual(["resource.create"]);
      // No credential in any log line.
      const text = JSON.stringify(lines);
      expect(text).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+/);
    } finally {
      await logged.stop();
    }
  });
});
