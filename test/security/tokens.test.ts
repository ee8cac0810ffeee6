// Bearer tokens: JWTs verified with jose against a JWKS file and PEM public keys, issuer and audience checked, clock
// skew bounded to 60 s. Every way a token can be wrong is UNAUTHENTICATED with a message that says why, on the main
// port (Connect and gRPC) and on the dedicated gRPC port alike; a valid token's principal is the author of its writes.
import { Code } from "@connectrpc/connect";
import { SignJWT, UnsecuredJWT, exportPKCS8, exportSPKI, importPKCS8 } from "jose";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  ADMIN,
  AUDIENCE,
  ISSUER,
  apiClients,
  binding,
  capturingLogger,
  expectCode,
  mint,
  signingKey,
  startSecureServer,
  tempDir,
  tokenFor,
  uniqueId,
  writeJwks,
  writePem,
  type ApiClients,
  type SecureServer,
  type SigningKey,
} from "../helpers/secure-server.js";

let server: SecureServer;
/** In the JWKS file. */
let es256: SigningKey;
/** Also in the JWKS file: a second key, as during a rotation. */
let rotated: SigningKey;
/** A PEM public key file. */
let rs256: SigningKey;
/** Nobody configured this one. */
let stranger: SigningKey;

beforeAll(async () => {
  const dir = tempDir();
  [es256, rotated, rs256, stranger] = await Promise.all([
    signingKey("ES256"),
    signingKey("ES256"),
    signingKey("RS256"),
    signingKey("ES256"),
  ]);
  server = await startSecureServer(
    {
      jwks: await writeJwks(join(dir, "jwks.json"), [es256, rotated]),
      jwtPublicKeys: [await writePem(join(dir, "rs256.pem"), rs256)],
      jwtIssuer: ISSUER,
      jwtAudience: AUDIENCE,
      admins: [ADMIN],
    },
    dir,
  );
});
afterAll(async () => {
  await server?.stop();
});

const PORTS = {
  "main port, Connect": () => ({ baseUrl: server.url, protocol: "connect" as const }),
  "main port, gRPC": () => ({ baseUrl: server.url, protocol: "grpc" as const }),
  "gRPC port (grpc-js)": () => ({ baseUrl: `http://${server.grpcAddress}`, protocol: "grpc" as const }),
};
type Port = keyof typeof PORTS;
const PORT_NAMES = Object.keys(PORTS) as Port[];

function clients(port: Port, token?: string, authorization?: string): ApiClients {
  const { baseUrl, protocol } = PORTS[port]();
  return apiClients(baseUrl, { token, authorization, protocol });
}

/** The principal the audit log records for the creation of `name`. */
async function authorOf(name: string): Promise<string> {
  const admin = clients("main port, Connect", await tokenFor(es256, "root@example.com"));
  const { entries } = await admin.audit.listAuditEntries({ resource: name });
  expect(entries.map((e) => e.action)).toContain("resource.create");
  return entries.find((e) => e.action === "resource.create")!.principal;
}

describe.each(PORT_NAMES)("%s", (port) => {
  test("a valid token works and its principal is recorded as the author", async () => {
    const token = await tokenFor(es256, "Root@Example.com");
    const org = `organizations/${uniqueId("tok")}`;
    const created = await clients(port, token).resources.createResource({ resource: { name: org } });
    expect(created.name).toBe(org);
    expect(await authorOf(org)).toBe(ADMIN);
  });

  test("a token of the second JWKS key and one of the PEM key work too, with or without kid", async () => {
    for (const key of [rotated, rs256]) {
      for (const kid of [key.kid, null]) {
        const org = `organizations/${uniqueId("tok")}`;
        const token = await tokenFor(key, "root@example.com", undefined, { kid });
        await clients(port, token).resources.createResource({ resource: { name: org } });
        expect(await authorOf(org)).toBe(ADMIN);
      }
    }
  });

  // Each case: how to make the credential, and what the message must say.
  const REFUSED: [string, () => Promise<{ token?: string; authorization?: string }>, RegExp][] = [
    ["no token at all", async () => ({}), /no credentials: send `authorization: Bearer <JWT>`/],
    ["an empty bearer", async () => ({ authorization: "Bearer " }), /must be `Bearer <JWT>`/],
    ["another scheme", async () => ({ authorization: "Basic cm9vdDpyb290" }), /must be `Bearer <JWT>`/],
    ["garbage", async () => ({ token: "not-a-jwt" }), /token was refused: it is not a valid JWT/],
    ["three garbage segments", async () => ({ token: "aaa.bbb.ccc" }), /token was refused: it is not a valid JWT/],
    [
      "forged: signed by another key under a configured kid",
      async () => ({ token: await tokenFor({ ...stranger, kid: es256.kid }, "root@example.com") }),
      /token was refused: its signature does not verify/,
    ],
    [
      "forged: signed by an unknown key without kid",
      async () => ({ token: await tokenFor(stranger, "root@example.com", undefined, { kid: null }) }),
      /token was refused: its signature does not verify/,
    ],
    [
      "forged: the payload of a valid token replaced",
      async () => {
        const [header, , signature] = (await tokenFor(es256, "nobody@example.com")).split(".");
        const payload = Buffer.from(
          JSON.stringify({ sub: "x", email: "root@example.com", iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600 }),
        ).toString("base64url");
        return { token: `${header}.${payload}.${signature}` };
      },
      /token was refused: its signature does not verify/,
    ],
    [
      "expired two minutes ago (beyond the 60 s tolerance)",
      async () => ({ token: await tokenFor(es256, "root@example.com", undefined, { expiresIn: -120, issuedAt: -3600 }) }),
      /token was refused: it has expired/,
    ],
    [
      "not valid for another five minutes (nbf)",
      async () => ({ token: await tokenFor(es256, "root@example.com", undefined, { notBefore: 300 }) }),
      /token was refused: claim "nbf"/,
    ],
    [
      "wrong issuer",
      async () => ({ token: await tokenFor(es256, "root@example.com", undefined, { issuer: "https://evil.example.test" }) }),
      /token was refused: claim "iss"/,
    ],
    [
      "no issuer",
      async () => ({ token: await tokenFor(es256, "root@example.com", undefined, { issuer: null }) }),
      /token was refused: claim "iss"/,
    ],
    [
      "wrong audience",
      async () => ({ token: await tokenFor(es256, "root@example.com", undefined, { audience: "another-service" }) }),
      /token was refused: claim "aud"/,
    ],
    [
      "no audience",
      async () => ({ token: await tokenFor(es256, "root@example.com", undefined, { audience: null }) }),
      /token was refused: claim "aud"/,
    ],
    [
      "no expiry: a bearer token must not be valid forever",
      async () => ({ token: await tokenFor(es256, "root@example.com", undefined, { noExpiry: true }) }),
      /token was refused: claim "exp" is missing/,
    ],
    [
      "alg none",
      async () => ({
        token: new UnsecuredJWT({ sub: "x", email: "root@example.com" })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setIssuedAt()
          .setExpirationTime("10m")
          .encode(),
      }),
      /token was refused: its algorithm is not accepted/,
    ],
    [
      "HS256 with the PEM public key as the secret (key confusion)",
      async () => ({
        token: await new SignJWT({ sub: "x", email: "root@example.com" })
          .setProtectedHeader({ alg: "HS256" })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setIssuedAt()
          .setExpirationTime("10m")
          .sign(new TextEncoder().encode(await exportSPKI(rs256.publicKey))),
      }),
      /token was refused: its algorithm is not accepted/,
    ],
    [
      "HS256 under the kid of a JWKS key",
      async () => ({
        token: await new SignJWT({ sub: "x", email: "root@example.com" })
          .setProtectedHeader({ alg: "HS256", kid: es256.kid })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setIssuedAt()
          .setExpirationTime("10m")
          .sign(new TextEncoder().encode("a shared secret nobody configured")),
      }),
      /token was refused: its algorithm is not accepted/,
    ],
  ];

  test.each(REFUSED)("UNAUTHENTICATED: %s", async (_, credential, message) => {
    const { token, authorization } = await credential();
    const api = clients(port, token, authorization);
    const org = `organizations/${uniqueId("refused")}`;
    const error = await expectCode(api.resources.createResource({ resource: { name: org } }), Code.Unauthenticated, message);
    // The token itself is never echoed back.
    if (token) expect(error.rawMessage).not.toContain(token);
    // A read is refused the same way, and the write did not happen.
    await expectCode(api.policies.getPolicy({ resource: org }), Code.Unauthenticated, message);
    const admin = clients("main port, Connect", await tokenFor(es256, "root@example.com"));
    await expectCode(admin.resources.getResource({ name: org }), Code.NotFound);
  });
});

test("PEM keys of several types: each token is verified with the key of its algorithm", async () => {
  const dir = tempDir();
  const [rsa, ec384, ed] = await Promise.all([signingKey("RS256"), signingKey("ES384"), signingKey("EdDSA")]);
  const pemOnly = await startSecureServer(
    {
      jwtPublicKeys: [await writePem(join(dir, "rsa.pem"), rsa), await writePem(join(dir, "ec384.pem"), ec384), await writePem(join(dir, "ed.pem"), ed)],
      jwtIssuer: ISSUER,
      jwtAudience: AUDIENCE,
      admins: [ADMIN],
    },
    dir,
  );
  try {
    // The RSA key also verifies PS256; the order of the files does not matter.
    const rsaPss = { ...rsa, alg: "PS256" as const, privateKey: await importPKCS8(await exportPKCS8(rsa.privateKey), "PS256") };
    for (const key of [rsa, rsaPss, ec384, ed]) {
      const org = `organizations/${uniqueId("pem")}`;
      await apiClients(pemOnly.url, { token: await tokenFor(key, "root@example.com", undefined, { kid: null }) })
        .resources.createResource({ resource: { name: org } });
    }
    const forged = await signingKey("ES384");
    await expectCode(
      apiClients(pemOnly.url, { token: await tokenFor(forged, "root@example.com") }).resources.getResource({ name: "organizations/x" }),
      Code.Unauthenticated,
      /its signature does not verify/,
    );
    // A token of an algorithm no configured key has (ES256 here) does not verify either.
    const es = await signingKey("ES256");
    await expectCode(
      apiClients(pemOnly.url, { token: await tokenFor(es, "root@example.com") }).resources.getResource({ name: "organizations/x" }),
      Code.Unauthenticated,
      /its signature does not verify/,
    );
  } finally {
    await pemOnly.stop();
  }
});

test("a file that is not a public key fails at start", async () => {
  const dir = tempDir();
  const file = join(dir, "not-a-key.pem");
  writeFileSync(file, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  await expect(startSecureServer({ jwtPublicKeys: [file] }, dir)).rejects.toThrow(/not a PEM public key/);
});

test("without --jwt-issuer and --jwt-audience any issuer and audience pass, and the server warns at start", async () => {
  const dir = tempDir();
  const key = await signingKey("ES256");
  const { logger, lines } = capturingLogger();
  const open = await startSecureServer({ jwks: await writeJwks(join(dir, "jwks.json"), [key]), admins: [ADMIN] }, dir, logger);
  try {
    expect(lines.map((l) => l.msg)).toContain(
      "bearer tokens are configured without --jwt-issuer and --jwt-audience: tokens for any audience are accepted",
    );
    const token = await tokenFor(key, "root@example.com", undefined, { issuer: "https://anyone.example", audience: "another-service" });
    await apiClients(open.url, { token }).resources.createResource({ resource: { name: `organizations/${uniqueId("open")}` } });
    // Signatures, expiry and the algorithm are still checked.
    await expectCode(
      apiClients(open.url, { token: await tokenFor(key, "root@example.com", undefined, { expiresIn: -120 }) }).resources.listResources({}),
      Code.Unauthenticated,
      /it has expired/,
    );
  } finally {
    await open.stop();
  }
});

describe("clock skew", () => {
  test("a token that expired 20 s ago or becomes valid in 20 s is accepted (60 s tolerance)", async () => {
    const justExpired = await tokenFor(es256, "root@example.com", undefined, { expiresIn: -20, issuedAt: -600 });
    const almostValid = await tokenFor(es256, "root@example.com", undefined, { notBefore: 20 });
    for (const token of [justExpired, almostValid]) {
      const org = `organizations/${uniqueId("skew")}`;
      await clients("main port, Connect", token).resources.createResource({ resource: { name: org } });
    }
  });
});

describe("the principal of a token", () => {
  /** Binds every candidate principal as owner of a fresh org, writes with `claims`, and returns the recorded author. */
  async function authorWith(claims: Record<string, unknown>): Promise<string> {
    const admin = clients("main port, Connect", await tokenFor(es256, "root@example.com"));
    const org = `organizations/${uniqueId("who")}`;
    await admin.resources.createResource({ resource: { name: org } });
    await admin.policies.setPolicy({
      resource: org,
      policy: {
        bindings: [
          binding("roles/owner", "user:ada@example.com", "user:bob@example.com", "serviceAccount:ci@example.com", "user:uid@example.com"),
        ],
      },
    });
    const caller = clients("main port, Connect", await mint(es256, claims));
    const cloud = `clouds/${uniqueId("who")}`;
    await caller.resources.createResource({ resource: { name: cloud, parent: org } });
    const { entries } = await admin.audit.listAuditEntries({ resource: cloud });
    return entries[0]!.principal;
  }

  test("the email claim, lower-cased, as user:", async () => {
    expect(await authorWith({ sub: "opaque-123", email: "Ada@Example.com", email_verified: true })).toBe("user:ada@example.com");
    expect(await authorWith({ sub: "opaque-123", email: "ada@example.com" })).toBe("user:ada@example.com");
  });

  test("an unverified email is ignored: the subject is used", async () => {
    expect(await authorWith({ sub: "bob@example.com", email: "ada@example.com", email_verified: false })).toBe("user:bob@example.com");
    // Some identity providers send the flag as a string; only true (or "true") verifies.
    for (const flag of ["false", "False", 0, "0", 1, "yes", null, {}]) {
      expect(await authorWith({ sub: "bob@example.com", email: "ada@example.com", email_verified: flag }), String(flag)).toBe(
        "user:bob@example.com",
      );
    }
    expect(await authorWith({ sub: "bob@example.com", email: "ada@example.com", email_verified: "TRUE" })).toBe("user:ada@example.com");
  });

  test("a subject that is an email or a user:/serviceAccount: principal", async () => {
    expect(await authorWith({ sub: "uid@example.com" })).toBe("user:uid@example.com");
    expect(await authorWith({ sub: "serviceAccount:ci@example.com" })).toBe("serviceAccount:ci@example.com");
    expect(await authorWith({ sub: "user:bob@example.com" })).toBe("user:bob@example.com");
  });

  test.each([
    ["an opaque subject and no email", { sub: "1234567890" }],
    ["no subject and no email", {}],
    ["a subject that claims to be a group", { sub: "group:admins" }],
    ["a subject that claims to be a domain", { sub: "domain:example.com" }],
    ["a subject that claims to be everyone", { sub: "allUsers" }],
    ["an email claim that claims to be a group", { sub: "1234567890", email: "group:admins" }],
  ])("UNAUTHENTICATED: %s", async (_, claims) => {
    const caller = clients("main port, Connect", await mint(es256, claims));
    await expectCode(
      caller.resources.getResource({ name: "organizations/any" }),
      Code.Unauthenticated,
      /the token's subject is neither an email nor a user:\/serviceAccount: principal/,
    );
  });
});

describe("groups", () => {
  test("the groups claim grants what is bound to group: members", async () => {
    const admin = clients("main port, gRPC", await tokenFor(es256, "root@example.com"));
    const org = `organizations/${uniqueId("grp")}`;
    await admin.resources.createResource({ resource: { name: org } });
    await admin.policies.setPolicy({ resource: org, policy: { bindings: [binding("roles/owner", "group:ug_eng42", "group:sre@example.com")] } });

    for (const groups of [["ug_eng42"], ["other", "SRE@example.com"]]) {
      const member = clients("main port, Connect", await tokenFor(es256, "carol@example.com", groups));
      expect((await member.policies.getPolicy({ resource: org })).bindings).toHaveLength(1);
      expect((await member.policies.testIamPermissions({ resource: org, permissions: ["organizations.setPolicy", "audit.list"] })).permissions)
        .toEqual(["organizations.setPolicy", "audit.list"]);
    }
    for (const groups of [undefined, ["ug_eng4"], ["ug_eng42x"]]) {
      const outsider = clients("main port, Connect", await tokenFor(es256, "carol@example.com", groups));
      await expectCode(outsider.policies.getPolicy({ resource: org }), Code.NotFound);
    }
    // A groups claim that is not a list of strings grants nothing (and is not an error).
    const odd = clients("main port, Connect", await mint(es256, { email: "carol@example.com", groups: "ug_eng42" }));
    await expectCode(odd.policies.getPolicy({ resource: org }), Code.NotFound);
    const mixed = clients("main port, Connect", await mint(es256, { email: "carol@example.com", groups: [42, { id: "x" }, "ug_eng42"] }));
    expect((await mixed.policies.getPolicy({ resource: org })).bindings).toHaveLength(1);
  });

  test("--jwt-groups-claim names another claim", async () => {
    const dir = tempDir();
    const key = await signingKey("ES256");
    const custom = await startSecureServer(
      {
        jwks: await writeJwks(join(dir, "jwks.json"), [key]),
        jwtIssuer: ISSUER,
        jwtAudience: AUDIENCE,
        jwtGroupsClaim: "https://example.com/groups",
        admins: [ADMIN],
      },
      dir,
    );
    try {
      const admin = apiClients(custom.url, { token: await tokenFor(key, "root@example.com") });
      const org = `organizations/${uniqueId("grp")}`;
      await admin.resources.createResource({ resource: { name: org } });
      await admin.policies.setPolicy({ resource: org, policy: { bindings: [binding("roles/collaborator", "group:ug_ops")] } });
      const viaCustom = apiClients(custom.url, { token: await mint(key, { email: "dan@example.com", "https://example.com/groups": ["ug_ops"] }) });
      expect((await viaCustom.resources.getResource({ name: org })).name).toBe(org);
      const viaDefault = apiClients(custom.url, { token: await mint(key, { email: "dan@example.com", groups: ["ug_ops"] }) });
      await expectCode(viaDefault.resources.getResource({ name: org }), Code.NotFound);
    } finally {
      await custom.stop();
    }
  });
});

test("bootstrap administrators are matched on the canonical principal; others cannot create a root", async () => {
  const other = clients("main port, Connect", await tokenFor(es256, "eve@example.com"));
  await expectCode(
    other.resources.createResource({ resource: { name: `organizations/${uniqueId("eve")}` } }),
    Code.PermissionDenied,
    /only the server's administrators may create a root resource/,
  );
});
