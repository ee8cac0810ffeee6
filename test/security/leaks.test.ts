// Information that must not leak (issue 13, items 4, 5 and 7; issue 25, item 7): answers show a caller only the
// ancestors it could ask about itself, listings only what the caller could list by type, metrics name no tenant's
// consumer unless the operator opts in (on a listener of its own) and can be kept off the API port, development
// mode refuses foreign host names (DNS rebinding), page tokens are opaque and errors do not tell the store's sequence.
import { Code } from "@connectrpc/connect";
import http from "node:http";
import http2 from "node:http2";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadConfig } from "../../src/config.js";
import {
  ADMIN,
  AUDIENCE,
  ISSUER,
  apiClients,
  binding,
  expectCode,
  mint,
  signingKey,
  startSecureServer,
  tempDir,
  tokenFor,
  uniqueId,
  writeJwks,
  type ApiClients,
  type SecureServer,
  type SigningKey,
} from "../helpers/secure-server.js";

let server: SecureServer;
let key: SigningKey;

const ORG_OWNER = "olivia@example.com"; // roles/owner on the organization
const COLLABORATOR = "carl@example.com"; // roles/collaborator on the organization
const CHECKER = "checker@example.com"; // roles/checker on the organization (organizations.get, access.check)
const PROJECT_OWNER = "pam@example.com"; // roles/owner on the project only
const CLOUD_READER = "rita@example.com"; // roles/readonly on the cloud

let org: string;
let cloud: string;
let project: string; // under the cloud
let orgProject: string; // directly under the organization

const as = async (email: string): Promise<ApiClients> => apiClients(server.url, { token: await tokenFor(key, email) });
const asServiceAccount = async (email: string): Promise<ApiClients> =>
  apiClients(server.url, { token: await mint(key, { sub: `serviceAccount:${email}` }) });
let admin: ApiClients;

beforeAll(async () => {
  const dir = tempDir();
  key = await signingKey("ES256");
  server = await startSecureServer(
    { jwks: await writeJwks(join(dir, "jwks.json"), [key]), jwtIssuer: ISSUER, jwtAudience: AUDIENCE, admins: [ADMIN] },
    dir,
  );
  admin = await as("root@example.com");
  org = `organizations/${uniqueId("acme")}`;
  cloud = `clouds/${uniqueId("cld")}`;
  project = `projects/${uniqueId("prj")}`;
  orgProject = `projects/${uniqueId("orgprj")}`;
  await admin.resources.createResource({ resource: { name: org } });
  await admin.resources.createResource({ resource: { name: cloud, parent: org } });
  await admin.resources.createResource({ resource: { name: project, parent: cloud } });
  await admin.resources.createResource({ resource: { name: orgProject, parent: org } });
  await admin.policies.setPolicy({
    resource: org,
    policy: {
      bindings: [
        binding("roles/owner", `user:${ORG_OWNER}`),
        binding("roles/collaborator", `user:${COLLABORATOR}`),
        binding("roles/checker", `serviceAccount:${CHECKER}`),
      ],
    },
  });
  await admin.policies.setPolicy({ resource: cloud, policy: { bindings: [binding("roles/readonly", `user:${CLOUD_READER}`)] } });
  await admin.policies.setPolicy({ resource: project, policy: { bindings: [binding("roles/owner", `user:${PROJECT_OWNER}`)] } });
});
afterAll(async () => {
  await server?.stop();
});

describe("LookupEffectivePolicy shows only the ancestors whose policy the caller may read", () => {
  test("a project owner gets its project's policy alone, marked partial, naming no hidden ancestor", async () => {
    const owner = await as(PROJECT_OWNER);
    await expectCode(owner.resources.getResource({ name: cloud }), Code.NotFound);
    const effective = await owner.policies.lookupEffectivePolicy({ resource: project });
    expect(effective.partial).toBe(true);
    expect(effective.policies.map((p) => p.resource)).toEqual([project]);
    expect(effective.bindings.map((b) => b.resource)).toEqual([project]);
    const text = JSON.stringify(effective, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v));
    for (const hidden of [org, cloud, ORG_OWNER, CLOUD_READER, CHECKER]) expect(text).not.toContain(hidden);
  });

  test("an organization owner and an administrator get every ancestor, not partial", async () => {
    for (const caller of [await as(ORG_OWNER), admin]) {
      const effective = await caller.policies.lookupEffectivePolicy({ resource: project });
      expect(effective.partial).toBe(false);
      expect(effective.policies.map((p) => p.resource)).toEqual([project, cloud, org]);
    }
  });
});

describe("CheckAccess explanations name only ancestors the caller may check on", () => {
  test("a project owner learns the answer, but not the hidden binding that decides it", async () => {
    const owner = await as(PROJECT_OWNER);
    const response = await owner.access.checkAccess({
      resource: project,
      principals: [`user:${ORG_OWNER}`],
      permissions: ["projects.delete"],
      explain: true,
    });
    expect(response.grantedPermissions).toEqual(["projects.delete"]);
    expect(response.partialExplanations).toBe(true);
    const text = JSON.stringify(response.results, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v));
    expect(text).not.toContain(org);
    expect(text).not.toContain(cloud);
    expect(text).not.toContain(ORG_OWNER);
  });

  test("a checker on the organization gets the full explanation", async () => {
    const checker = await asServiceAccount(CHECKER);
    const response = await checker.access.checkAccess({
      resource: project,
      principals: [`user:${ORG_OWNER}`],
      permissions: ["projects.delete"],
      explain: true,
    });
    expect(response.partialExplanations).toBe(false);
    expect(response.results[0]!.explanations.map((e) => [e.resource, e.matchedMember])).toContainEqual([org, `user:${ORG_OWNER}`]);
  });

  test("min_sequence ahead of the store is refused without telling the store's sequence", async () => {
    const checker = await asServiceAccount(CHECKER);
    const { sequence } = await checker.access.checkAccess({ resource: org, principals: [`user:${ORG_OWNER}`], permissions: ["organizations.get"] });
    const error = await expectCode(
      checker.access.checkAccess({ resource: org, principals: [`user:${ORG_OWNER}`], permissions: ["organizations.get"], minSequence: 999_999_999_999n }),
      Code.FailedPrecondition,
    );
    expect(error.rawMessage).not.toMatch(new RegExp(`\\b${sequence}\\b`));
  });
});

describe("ListResources without a type lists only the types the caller may list", () => {
  test("a checker (organizations.get only) sees no child of the organization", async () => {
    const checker = await asServiceAccount(CHECKER);
    await expectCode(checker.resources.getResource({ name: cloud }), Code.NotFound);
    const { resources, nextPageToken } = await checker.resources.listResources({ parent: org });
    expect(resources).toEqual([]);
    expect(nextPageToken).toBe("");
  });

  test("a collaborator pages through clouds and projects in name order, one per page", async () => {
    const collaborator = await as(COLLABORATOR);
    const names: string[] = [];
    let pageToken = "";
    for (let pages = 0; pages < 5; pages++) {
      const page = await collaborator.resources.listResources({ parent: org, pageSize: 1, pageToken });
      names.push(...page.resources.map((r) => r.name));
      pageToken = page.nextPageToken;
      if (!pageToken) break;
    }
    expect(names).toEqual([cloud, orgProject]);
  });

  test("a cloud reader lists the cloud's projects", async () => {
    const reader = await as(CLOUD_READER);
    expect((await reader.resources.listResources({ parent: cloud })).resources.map((r) => r.name)).toEqual([project]);
  });

  test("a page token is opaque: it does not show the names or ids it continues after", async () => {
    const page = await admin.resources.listResources({ parent: org, pageSize: 1 });
    expect(page.nextPageToken).not.toBe("");
    const raw = Buffer.from(page.nextPageToken, "base64url").toString("latin1");
    expect(raw).not.toContain(cloud);
    expect(raw).not.toContain(org);
  });
});

describe("metrics", () => {
  test("/metrics (no credentials needed) names no sync consumer: their number and the worst lag only", async () => {
    const consumer = `consumers/${uniqueId("acme-billing-edge")}`;
    await admin.sync.createConsumer({ consumer: { name: consumer, subtree: org } });
    try {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      expect(text).toMatch(/^policy_consumers [1-9]\d*$/m);
      expect(text).toMatch(/^policy_consumer_lag_max_sequences \d+$/m);
      expect(text).toMatch(/^policy_consumer_lag_max_seconds [\d.e+-]+$/m);
      expect(text).not.toContain("acme-billing-edge");
      expect(text).not.toContain('consumer="');
    } finally {
      await admin.sync.deleteConsumer({ name: consumer });
    }
  });

  test("--metrics-consumer-names shows each consumer's lag by name, on the metrics port only (refused without it)", async () => {
    expect(() => loadConfig(["--metrics-consumer-names"], {})).toThrow(
      "--metrics-consumer-names needs --metrics-port: consumer names are tenants' data, not for the main port",
    );
    expect(() => loadConfig([], { POLICY_METRICS_CONSUMER_NAMES: "1" })).toThrow("--metrics-consumer-names needs --metrics-port");
    expect(loadConfig(["--metrics-consumer-names", "--metrics-port", "0"], {})).toMatchObject({ metricsConsumerNames: true, metricsPort: 0 });
    const named = await startSecureServer({ metricsPort: 0, metricsConsumerNames: true });
    try {
      const clients = apiClients(named.url);
      await clients.resources.createResource({ resource: { name: "organizations/named" } });
      await clients.sync.createConsumer({ consumer: { name: "consumers/named-edge", subtree: "organizations/named" } });
      const text = await (await fetch(named.metricsUrl!)).text();
      expect(text).toMatch(/^policy_consumer_lag_sequences\{consumer="consumers\/named-edge"\} \d+$/m);
      expect(text).toMatch(/^policy_consumer_lag_seconds\{consumer="consumers\/named-edge"\} [\d.e+-]+$/m);
      expect(text).toMatch(/^policy_consumers 1$/m);
    } finally {
      await named.stop();
    }
  });

  test("--metrics-port serves /metrics on its own loopback listener, and the main port no longer does", async () => {
    const metricsServer = await startSecureServer({ metricsPort: 0 });
    try {
      expect(metricsServer.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const main = await fetch(`${metricsServer.url}/metrics`);
      expect(main.status).toBe(404);
      await main.text();
      const metrics = await fetch(metricsServer.metricsUrl!);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain("policy_change_log_sequence");
    } finally {
      await metricsServer.stop();
    }
  });
});

describe("development mode refuses foreign host names (DNS rebinding)", () => {
  let dev: SecureServer;
  beforeAll(async () => {
    dev = await startSecureServer({});
  });
  afterAll(async () => {
    await dev?.stop();
  });

  /** The HTTP status of a Connect GetResource call over HTTP/1.1 with `headers`. */
  function statusOverHttp1(headers: Record<string, string>): Promise<number> {
    const url = new URL(`${dev.url}/policy.v1.ResourceService/ListResources`);
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method: "POST", headers: { "content-type": "application/json", ...headers } }, (res) => {
        res.resume();
        res.once("end", () => resolve(res.statusCode!));
      });
      req.once("error", reject);
      req.end("{}");
    });
  }

  function statusOverHttp2(authority: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(dev.url);
      session.once("error", reject);
      const stream = session.request({
        ":method": "POST",
        ":path": "/policy.v1.ResourceService/ListResources",
        ":authority": authority,
        "content-type": "application/json",
      });
      stream.once("response", (headers) => {
        stream.resume();
        stream.once("end", () => {
          session.close();
          resolve(Number(headers[":status"]));
        });
      });
      stream.once("error", reject);
      stream.end("{}");
    });
  }

  test("loopback host names are served", async () => {
    const port = new URL(dev.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, "127.1.2.3"]) {
      expect(await statusOverHttp1({ host }), host).toBe(200);
    }
    expect(await statusOverHttp1({ host: `localhost:${port}`, origin: "http://localhost:3000" })).toBe(200);
    expect(await statusOverHttp2(`localhost:${port}`)).toBe(200);
  });

  test("a foreign Host, :authority or Origin is refused", async () => {
    const port = new URL(dev.url).port;
    expect(await statusOverHttp1({ host: `rebind.attacker.example:${port}` })).toBe(403);
    expect(await statusOverHttp1({ host: `127.0.0.1:${port}`, origin: "http://rebind.attacker.example" })).toBe(403);
    expect(await statusOverHttp1({ host: `127.0.0.1:${port}`, origin: "null" })).toBe(403);
    expect(await statusOverHttp2(`rebind.attacker.example:${port}`)).toBe(403);
  });

  test("with authentication on, other host names are served (tokens protect it)", async () => {
    const port = new URL(server.url).port;
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        new URL(`${server.url}/policy.v1.ResourceService/ListResources`),
        { method: "POST", headers: { "content-type": "application/json", host: `policy.example:${port}` } },
        (res) => {
          res.resume();
          res.once("end", () => resolve(res.statusCode!));
        },
      );
      req.once("error", reject);
      req.end("{}");
    });
    expect(status).toBe(401); // UNAUTHENTICATED, not refused for its host name
  });
});
