// Who can (LookupMembers) and what can (LookupResources) through real clients, over Connect on the main port and gRPC
// on the grpc-js port: the answers, conditional bindings, pages and their tokens, and who may ask what.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AccessState } from "../../gen/policy/v1/access_service_pb.js";
import {
  expectCode,
  signingKey,
  startTokenServer,
  tokenFor,
  uniqueId,
  apiClients,
  binding,
  type ApiClients,
  type SecureServer,
  type SigningKey,
} from "../helpers/secure-server.js";
import { attributeValues } from "./support.js";

const OWNER = "olivia@example.com"; // roles/owner on the organization
const READER = "rita@example.com"; // roles/readonly on the cloud
const PAM = "pam@example.com"; // roles/owner on one project only
const CONDITIONAL = "carl@example.com"; // roles/collaborator on the cloud while request.attributes.ok

let server: SecureServer;
let key: SigningKey;
let admin: ApiClients;
let org: string;
let cloud: string;
let pamProject: string;
const projects: string[] = [];

/** A caller's clients: Connect on the main port, or gRPC on the grpc-js port. */
async function as(email: string, port: "connect" | "grpc-js" = "connect"): Promise<ApiClients> {
  const token = await tokenFor(key, email);
  return port === "connect"
    ? apiClients(server.url, { token, protocol: "connect" })
    : apiClients(`http://${server.grpcAddress}`, { token, protocol: "grpc" });
}

beforeAll(async () => {
  key = await signingKey("ES256");
  server = await startTokenServer([key]);
  admin = await as("root@example.com");
  org = `organizations/${uniqueId("acme")}`;
  cloud = `clouds/${uniqueId("cld")}`;
  await admin.resources.createResource({ resource: { name: org } });
  await admin.resources.createResource({ resource: { name: cloud, parent: org } });
  for (let i = 0; i < 7; i++) {
    const name = `projects/${uniqueId(`p${i}`)}`;
    await admin.resources.createResource({ resource: { name, parent: i < 5 ? cloud : org } });
    projects.push(name);
  }
  pamProject = projects[0]!;
  await admin.policies.setPolicy({ resource: org, policy: { bindings: [binding("roles/owner", `user:${OWNER}`)] } });
  await admin.policies.setPolicy({
    resource: cloud,
    policy: {
      version: 3,
      bindings: [
        binding("roles/readonly", `user:${READER}`, "group:readers"),
        {
          role: "roles/collaborator",
          members: [`user:${CONDITIONAL}`],
          condition: { expression: "request.attributes.ok == true", title: "ok" },
        },
      ],
    },
  });
  await admin.policies.setPolicy({ resource: pamProject, policy: { bindings: [binding("roles/owner", `user:${PAM}`)] } });
});
afterAll(() => server?.stop());

describe.each(["connect", "grpc-js"] as const)("over %s", (port) => {
  test("who can: every member holding the permission, as bound, with its role, binding resource and condition", async () => {
    const api = await as(OWNER, port);
    const answer = await api.access.lookupMembers({ resource: pamProject, permission: "projects.get" });
    expect(answer.partial).toBe(false);
    expect(answer.sequence).toBeGreaterThan(0n);
    expect(answer.grants.map((g) => [g.member, g.role, g.resource, g.conditional, AccessState[g.state]])).toEqual([
      ["group:readers", "roles/readonly", cloud, false, "GRANTED"],
      [`user:${CONDITIONAL}`, "roles/collaborator", cloud, true, "UNKNOWN_CONDITIONAL"],
      [`user:${OWNER}`, "roles/owner", org, false, "GRANTED"],
      [`user:${PAM}`, "roles/owner", pamProject, false, "GRANTED"],
      [`user:${READER}`, "roles/readonly", cloud, false, "GRANTED"],
    ]);
    expect(answer.grants[1]!.condition?.expression).toBe("request.attributes.ok == true");
    // Only the roles that grant the permission: readonly does not give projects.delete.
    const deleters = await api.access.lookupMembers({ resource: pamProject, permission: "projects.delete" });
    expect(deleters.grants.map((g) => g.member)).toEqual([`user:${CONDITIONAL}`, `user:${OWNER}`, `user:${PAM}`]);
  });

  test("who can, with attributes: conditions are evaluated; a false one leaves its binding out", async () => {
    const api = await as(OWNER, port);
    const yes = await api.access.lookupMembers({ resource: pamProject, permission: "projects.delete", attributes: attributeValues({ ok: true }) });
    expect(yes.grants.map((g) => [g.member, AccessState[g.state], g.conditional])).toEqual([
      [`user:${CONDITIONAL}`, "GRANTED", true],
      [`user:${OWNER}`, "GRANTED", false],
      [`user:${PAM}`, "GRANTED", false],
    ]);
    const no = await api.access.lookupMembers({ resource: pamProject, permission: "projects.delete", attributes: attributeValues({ ok: false }) });
    expect(no.grants.map((g) => g.member)).toEqual([`user:${OWNER}`, `user:${PAM}`]);
  });

  test("what can: a grant on the organization covers every project in it; a cloud grant, the cloud's", async () => {
    const api = await as(OWNER, port);
    const owner = await api.access.lookupResources({ principals: [`user:${OWNER}`], permission: "projects.delete", resourceType: "project" });
    expect(owner.resources.map((r) => r.resource).sort()).toEqual([...projects].sort());
    expect(owner.resources.every((r) => r.state === AccessState.GRANTED && !r.conditional)).toBe(true);
    expect(owner.nextPageToken).toBe("");
    const group = await api.access.lookupResources({ principals: ["user:someone@example.com", "group:readers"], permission: "projects.get", resourceType: "project" });
    expect(group.resources.map((r) => r.resource).sort()).toEqual(projects.slice(0, 5).sort());
    const clouds = await api.access.lookupResources({ principals: [`user:${READER}`], permission: "clouds.get", resourceType: "cloud", ancestor: org });
    expect(clouds.resources.map((r) => r.resource)).toEqual([cloud]);
    const conditional = await api.access.lookupResources({ principals: [`user:${CONDITIONAL}`], permission: "projects.update", resourceType: "project", ancestor: cloud });
    expect(conditional.resources.map((r) => [AccessState[r.state], r.conditional])).toEqual(Array(5).fill(["UNKNOWN_CONDITIONAL", true]));
    const evaluated = await api.access.lookupResources({
      principals: [`user:${CONDITIONAL}`],
      permission: "projects.update",
      resourceType: "project",
      attributes: attributeValues({ ok: false }),
    });
    expect(evaluated.resources).toEqual([]);
  });

  test("what can, in pages: every resource once, tokens bound to the query", async () => {
    const api = await as(OWNER, port);
    const query = { principals: [`user:${OWNER}`], permission: "projects.get", resourceType: "project", ancestor: org, pageSize: 2 };
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await api.access.lookupResources({ ...query, pageToken: token });
      expect(page.resources.length).toBeLessThanOrEqual(2);
      seen.push(...page.resources.map((r) => r.resource));
      token = page.nextPageToken;
      pages++;
      if (pages === 1) {
        await expectCode(api.access.lookupResources({ ...query, permission: "projects.update", pageToken: token }), Code.InvalidArgument, /page_token/);
        await expectCode(api.access.lookupResources({ ...query, principals: [`user:${READER}`], pageToken: token }), Code.InvalidArgument, /page_token/);
        await expectCode(api.access.lookupResources({ ...query, pageToken: `${token.slice(0, -2)}AA` }), Code.InvalidArgument, /page_token/);
        await expectCode(api.access.lookupMembers({ resource: org, permission: "projects.get", pageToken: token }), Code.InvalidArgument, /page_token/);
      }
    } while (token !== "");
    expect(pages).toBeGreaterThanOrEqual(4);
    expect(seen.slice().sort()).toEqual([...projects].sort());
  });

  test("who can, in pages: every grant once", async () => {
    const api = await as(OWNER, port);
    const all = await api.access.lookupMembers({ resource: pamProject, permission: "projects.get" });
    const paged: string[] = [];
    let token = "";
    do {
      const page = await api.access.lookupMembers({ resource: pamProject, permission: "projects.get", pageSize: 2, pageToken: token });
      paged.push(...page.grants.map((g) => `${g.member} ${g.resource}`));
      token = page.nextPageToken;
    } while (token !== "");
    expect(paged).toEqual(all.grants.map((g) => `${g.member} ${g.resource}`));
  });

  test("bad input is INVALID_ARGUMENT naming the field; an unknown resource is NOT_FOUND", async () => {
    const api = await as(OWNER, port);
    await expectCode(api.access.lookupMembers({ resource: pamProject, permission: "projects.*" }), Code.InvalidArgument, /permission/);
    await expectCode(api.access.lookupMembers({ resource: pamProject, permission: "" }), Code.InvalidArgument, /permission/);
    await expectCode(api.access.lookupResources({ principals: ["bob"], permission: "projects.get", resourceType: "project" }), Code.InvalidArgument, /principals\[0\]/);
    await expectCode(api.access.lookupResources({ principals: [], permission: "projects.get", resourceType: "planet" }), Code.InvalidArgument, /resource_type/);
    await expectCode(api.access.lookupResources({ principals: [], permission: "projects.get", resourceType: "project", pageSize: -1 }), Code.InvalidArgument, /page_size/);
    const root = await as("root@example.com", port);
    await expectCode(root.access.lookupMembers({ resource: "projects/none", permission: "projects.get" }), Code.NotFound);
    await expectCode(root.access.lookupResources({ principals: [], permission: "projects.get", resourceType: "project", ancestor: "clouds/none" }), Code.NotFound);
  });
});

describe("authorization: a caller asks only about resources whose policies it may read", () => {
  test("who can needs policies.get on the resource; ancestors it may not read are left out, marked partial", async () => {
    await expectCode((await as(READER)).access.lookupMembers({ resource: pamProject, permission: "projects.get" }), Code.PermissionDenied);
    await expectCode((await as("stranger@example.com")).access.lookupMembers({ resource: pamProject, permission: "projects.get" }), Code.NotFound);
    const pam = await (await as(PAM)).access.lookupMembers({ resource: pamProject, permission: "projects.get" });
    expect(pam.partial).toBe(true);
    expect(pam.grants.map((g) => g.member)).toEqual([`user:${PAM}`]);
  });

  test("what can lists only resources whose policies the caller may read, and an ancestor it names must be one", async () => {
    const pam = await as(PAM);
    // Asking about the organization owner, pam sees only the project whose policies she may read.
    const seen = await pam.access.lookupResources({ principals: [`user:${OWNER}`], permission: "projects.get", resourceType: "project" });
    expect(seen.resources.map((r) => r.resource)).toEqual([pamProject]);
    await expectCode(pam.access.lookupResources({ principals: [`user:${OWNER}`], permission: "projects.get", resourceType: "project", ancestor: org }), Code.NotFound);
    const reader = await as(READER);
    await expectCode(reader.access.lookupResources({ principals: [], permission: "projects.get", resourceType: "project", ancestor: cloud }), Code.PermissionDenied);
  });
});
