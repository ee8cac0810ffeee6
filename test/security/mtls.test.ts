// Mutual TLS: a client certificate signed by the configured CA identifies its holder. An email in the subject
// alternative names is a person (`user:`); otherwise the subject's common name, an email, is a service account
// (`serviceAccount:`). Nothing else in a certificate names a principal.
import { Code } from "@connectrpc/connect";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  AUDIENCE,
  ISSUER,
  apiClients,
  binding,
  expectCode,
  failureOf,
  makeCa,
  makeCert,
  signingKey,
  startSecureServer,
  tempDir,
  tokenFor,
  uniqueId,
  writeJwks,
  type ApiClients,
  type Protocol,
  type SecureServer,
  type SigningKey,
} from "../helpers/secure-server.js";

let server: SecureServer;
let key: SigningKey;
let ca: Buffer;
let files: { ca: string; serverCert: string; serverKey: string };
const certs: Record<string, { cert: Buffer; key: Buffer }> = {};

const SERVICE = "serviceAccount:svc@example.com";
const PERSON = "user:ada@example.com";

beforeAll(async () => {
  const dir = tempDir("policy-mtls-");
  const authority = makeCa(dir, "ca");
  const foreign = makeCa(dir, "foreign");
  const server_ = makeCert(dir, "server", "/CN=localhost", authority, [
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "extendedKeyUsage=serverAuth",
  ]);
  const client = (name: string, subject: string, ...extensions: string[]) => {
    const files = makeCert(dir, name, subject, name === "stranger" ? foreign : authority, ["extendedKeyUsage=clientAuth", ...extensions]);
    certs[name] = { cert: readFileSync(files.cert), key: readFileSync(files.key) };
  };
  client("service", "/CN=svc@example.com");
  client("person", "/CN=Ada Lovelace", "subjectAltName=email:Ada@Example.com,DNS:ada.example.com");
  client("uri", "/CN=svc2@example.com", "subjectAltName=URI:urn:email:root@example.com");
  client("dns", "/CN=svc3@example.com", "subjectAltName=DNS:email.example.com");
  client("group", "/CN=group:ops");
  client("prefixed", "/CN=user:root@example.com");
  client("everyone", "/CN=allUsers");
  client("opaque", "/CN=worker-1");
  client("stranger", "/CN=root@example.com", "subjectAltName=email:root@example.com");
  ca = readFileSync(authority.cert);
  files = { ca: authority.cert, serverCert: server_.cert, serverKey: server_.key };

  key = await signingKey("ES256");
  server = await startSecureServer(
    {
      tlsCert: server_.cert,
      tlsKey: server_.key,
      tlsClientCa: authority.cert,
      jwks: await writeJwks(join(dir, "jwks.json"), [key]),
      jwtIssuer: ISSUER,
      jwtAudience: AUDIENCE,
      admins: [SERVICE, "user:root@example.com"],
    },
    dir,
  );
});
afterAll(async () => {
  await server?.stop();
});

const ENDPOINTS = {
  "main port, Connect": () => ({ baseUrl: server.url, protocol: "connect" as Protocol }),
  "main port, gRPC": () => ({ baseUrl: server.url, protocol: "grpc" as Protocol }),
  "gRPC port (grpc-js)": () => ({ baseUrl: `https://${server.grpcAddress}`, protocol: "grpc" as Protocol }),
};
type Endpoint = keyof typeof ENDPOINTS;

function withCert(endpoint: Endpoint, name: string | undefined, token?: string): ApiClients {
  const { baseUrl, protocol } = ENDPOINTS[endpoint]();
  return apiClients(baseUrl, { protocol, token, tls: { ca, ...(name ? certs[name] : {}) } });
}

/** The principal the audit log records for a resource `clients` creates under a fresh organization it may write. */
async function principalOf(endpoint: Endpoint, name: string): Promise<string> {
  const admin = withCert("main port, Connect", "service");
  const org = `organizations/${uniqueId("mtls")}`;
  await admin.resources.createResource({ resource: { name: org } });
  await admin.policies.setPolicy({
    resource: org,
    policy: { bindings: [binding("roles/collaborator", PERSON, "serviceAccount:svc2@example.com", "serviceAccount:svc3@example.com")] },
  });
  const cloud = `clouds/${uniqueId("mtls")}`;
  await withCert(endpoint, name).resources.createResource({ resource: { name: cloud, parent: org } });
  const { entries } = await admin.audit.listAuditEntries({ resource: cloud });
  return entries[0]!.principal;
}

describe.each(Object.keys(ENDPOINTS) as Endpoint[])("%s", (endpoint) => {
  test("CN=svc@example.com is serviceAccount:svc@example.com (an administrator here)", async () => {
    const service = withCert(endpoint, "service");
    const org = `organizations/${uniqueId("svc")}`;
    await service.resources.createResource({ resource: { name: org } });
    const { entries } = await service.audit.listAuditEntries({ resource: org });
    expect(entries.map((e) => e.principal)).toEqual([SERVICE]);
  });

  test("a SAN email is user:, lower-cased", async () => {
    expect(await principalOf(endpoint, "person")).toBe(PERSON);
  });

  test("an email: inside another SAN entry is not an email SAN", async () => {
    expect(await principalOf(endpoint, "uri")).toBe("serviceAccount:svc2@example.com");
    expect(await principalOf(endpoint, "dns")).toBe("serviceAccount:svc3@example.com");
  });

  test.each(["group", "prefixed", "everyone", "opaque"])("a common name that is not an email (%s) is UNAUTHENTICATED", async (name) => {
    await expectCode(
      withCert(endpoint, name).resources.getResource({ name: "organizations/x" }),
      Code.Unauthenticated,
      /the client certificate names no email address \(SAN email or subject CN\)/,
    );
  });

  test("a bearer token works alongside (and wins over) a certificate", async () => {
    const token = await tokenFor(key, "root@example.com");
    const org = `organizations/${uniqueId("tok")}`;
    await withCert(endpoint, "person", token).resources.createResource({ resource: { name: org } });
    const { entries } = await withCert("main port, Connect", "service").audit.listAuditEntries({ resource: org });
    expect(entries.map((e) => e.principal)).toEqual(["user:root@example.com"]);
  });
});

describe("without a valid certificate", () => {
  test.each(["main port, Connect", "main port, gRPC"] as const)(
    "%s: no certificate and no token is UNAUTHENTICATED; a token alone works",
    async (endpoint) => {
      await expectCode(
        withCert(endpoint, undefined).resources.getResource({ name: "organizations/x" }),
        Code.Unauthenticated,
        /no credentials: send `authorization: Bearer <JWT>` or a client certificate/,
      );
      const token = await tokenFor(key, "root@example.com");
      await expectCode(withCert(endpoint, undefined, token).resources.getResource({ name: `organizations/${uniqueId("none")}` }), Code.NotFound);
    },
  );

  test.each(["main port, Connect", "main port, gRPC"] as const)(
    "%s: a certificate of another CA is ignored, not trusted: UNAUTHENTICATED",
    async (endpoint) => {
      await expectCode(
        withCert(endpoint, "stranger").resources.createResource({ resource: { name: `organizations/${uniqueId("foreign")}` } }),
        Code.Unauthenticated,
        /no credentials/,
      );
    },
  );

  test("the gRPC port requires a certificate of the CA: no call gets through without one or with a foreign one", async () => {
    for (const name of [undefined, "stranger"]) {
      // The foreign certificate names an administrator (root@example.com): had it been trusted, the create would work.
      const org = `organizations/${uniqueId("refused")}`;
      const error = await failureOf(withCert("gRPC port (grpc-js)", name).resources.createResource({ resource: { name: org } }));
      // TLS fails the handshake (or, with TLS 1.3, closes the connection right after it): a transport error.
      expect([Code.Unavailable, Code.Internal, Code.Canceled, Code.Unknown], error.message).toContain(error.code);
      await expectCode(withCert("main port, Connect", "service").resources.getResource({ name: org }), Code.NotFound);
    }
  });

  test("health stays open on the main port without a certificate", async () => {
    const anonymous = withCert("main port, gRPC", undefined);
    expect((await anonymous.health.check({ service: "" })).status).toBe(1);
  });
});

test("certificates only (no token keys): a token is refused, and the message names what is accepted", async () => {
  const certOnly = await startSecureServer({ tlsCert: files.serverCert, tlsKey: files.serverKey, tlsClientCa: files.ca, admins: [SERVICE] });
  try {
    const client = (name?: string, token?: string) =>
      apiClients(certOnly.url, { token, tls: { ca, ...(name ? certs[name] : {}) } });
    await expectCode(client().resources.getResource({ name: "organizations/x" }), Code.Unauthenticated, /^no credentials: send a client certificate$/);
    await expectCode(
      client(undefined, await tokenFor(key, "root@example.com")).resources.getResource({ name: "organizations/x" }),
      Code.Unauthenticated,
      /bearer tokens are not configured on this server/,
    );
    const org = `organizations/${uniqueId("certonly")}`;
    await client("service").resources.createResource({ resource: { name: org } });
    expect((await client("service").audit.listAuditEntries({ resource: org })).entries[0]!.principal).toBe(SERVICE);
  } finally {
    await certOnly.stop();
  }
});
