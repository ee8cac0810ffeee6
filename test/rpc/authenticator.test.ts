// The authenticator on its own (src/rpc/auth/authenticator.ts), without a server: who a bearer token or a verified
// client certificate makes the caller, and the UNAUTHENTICATED reason a caller reads for each way a credential is
// wrong. test/security/tokens.test.ts and mtls.test.ts prove the same through every port and protocol; this file is
// fast enough for a mutation run to use against every mutant.
import type { PeerCertificate } from "node:tls";
import { exportJWK, exportSPKI, UnsecuredJWT, type JWTPayload } from "jose";
import { beforeAll, beforeEach, describe, expect, test } from "vitest";
import { ANONYMOUS } from "../../src/domain/access/authorizer.js";
import { Authenticator, type TokenConfig } from "../../src/rpc/auth/authenticator.js";
import { AUDIENCE, ISSUER, mint, signingKey, tokenFor, type SigningKey } from "../helpers/secure-server.js";

let es256: SigningKey;
let rs256: SigningKey;
let stranger: SigningKey;
/**
 * JWKS (es256) and a PEM key (rs256), issuer and audience checked; client certificates too. Made again in each test
 * (not in a hook), so that a mutation run counts the tests that use it as covering `Authenticator.create`.
 */
let both: Authenticator;

const jwksOf = async (...keys: SigningKey[]) => ({
  keys: await Promise.all(keys.map(async (k) => ({ ...(await exportJWK(k.publicKey)), kid: k.kid, alg: k.alg, use: "sig" }))),
});
const config = async (overrides: Partial<TokenConfig> = {}): Promise<TokenConfig> => ({
  jwks: await jwksOf(es256),
  publicKeys: [await exportSPKI(rs256.publicKey)],
  issuer: ISSUER,
  audience: AUDIENCE,
  groupsClaim: "groups",
  ...overrides,
});

beforeAll(async () => {
  [es256, rs256, stranger] = await Promise.all([signingKey("ES256"), signingKey("RS256"), signingKey("ES256")]);
});
beforeEach(async () => {
  both = await Authenticator.create(await config(), true);
});

const bearer = (token: string) => `Bearer ${token}`;
const principalOf = async (auth: Authenticator, claims: JWTPayload, key = es256) =>
  (await auth.authenticate(bearer(await mint(key, claims)), undefined)).principal;
/** The UNAUTHENTICATED message of a refused credential. */
async function refusal(attempt: Promise<unknown>): Promise<string> {
  const error = await attempt.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "refused").toMatchObject({ code: "unauthenticated" });
  return (error as Error).message;
}

describe("what is configured", () => {
  test("nothing configured: development mode, every caller anonymous", async () => {
    const none = await Authenticator.create(undefined, false);
    expect(none.enabled).toBe(false);
    expect(await none.authenticate(bearer("anything"), undefined)).toBe(ANONYMOUS);
    const noKeys = await Authenticator.create({ publicKeys: [], groupsClaim: "groups" }, false);
    expect(noKeys.enabled).toBe(false);
  });

  test("certificates only: a token is refused, saying so; no credential names the certificate", async () => {
    const certificates = await Authenticator.create(undefined, true);
    expect(certificates.enabled).toBe(true);
    expect(await refusal(certificates.authenticate(bearer(await tokenFor(es256, "ada@example.com")), undefined))).toMatch(
      /bearer tokens are not configured on this server/,
    );
    expect(await refusal(certificates.authenticate(null, undefined))).toMatch(/no credentials: send a client certificate$/);
  });

  test("tokens only: no credential names the header; a certificate is not taken", async () => {
    const tokens = await Authenticator.create(await config(), false);
    const certificate = { subject: { CN: "svc@example.com" }, subjectaltname: "" } as unknown as PeerCertificate;
    expect(await refusal(tokens.authenticate(null, certificate))).toMatch(/no credentials: send `authorization: Bearer <JWT>`$/);
    expect(await refusal(both.authenticate(null, undefined))).toMatch(/send `authorization: Bearer <JWT>` or a client certificate$/);
  });

  test("a file that is not a public key fails at creation", async () => {
    await expect(Authenticator.create(await config({ publicKeys: ["not a key"] }), false)).rejects.toThrow(/not a PEM public key/);
  });
});

describe("tokens", () => {
  test("the header must be `Bearer <JWT>` (any case, any spacing)", async () => {
    const token = await tokenFor(es256, "ada@example.com");
    expect((await both.authenticate(`bearer   ${token}`, undefined)).principal).toBe("user:ada@example.com");
    for (const header of [token, `Basic ${token}`, `Bearer ${token} extra`, "Bearer ", `xBearer ${token}`]) {
      expect(await refusal(both.authenticate(header, undefined)), header.slice(0, 12)).toMatch(/must be `Bearer <JWT>`/);
    }
  });

  test("JWKS and PEM keys verify their tokens, with or without kid; a stranger's key does not", async () => {
    expect(await principalOf(both, { email: "ada@example.com" })).toBe("user:ada@example.com");
    expect(await principalOf(both, { email: "ada@example.com" }, rs256)).toBe("user:ada@example.com");
    const noKid = await mint(rs256, { email: "bob@example.com" }, { kid: null });
    expect((await both.authenticate(bearer(noKid), undefined)).principal).toBe("user:bob@example.com");
    const foreign = await mint(stranger, { email: "eve@example.com" }, { kid: null });
    expect(await refusal(both.authenticate(bearer(foreign), undefined))).toBe("the token was refused: its signature does not verify");
    const foreignKid = await mint(stranger, { email: "eve@example.com" });
    expect(await refusal(both.authenticate(bearer(foreignKid), undefined))).toBe("the token was refused: its signature does not verify");
  });

  test("two JWKS keys fit a token without kid (a rotation): each is tried", async () => {
    const rotating = await Authenticator.create(await config({ jwks: await jwksOf(stranger, es256), publicKeys: [] }), false);
    const token = await mint(es256, { email: "ada@example.com" }, { kid: null });
    expect((await rotating.authenticate(bearer(token), undefined)).principal).toBe("user:ada@example.com");
    const other = await signingKey("ES256");
    const foreign = await mint(other, { email: "eve@example.com" }, { kid: null });
    expect(await refusal(rotating.authenticate(bearer(foreign), undefined))).toBe("the token was refused: its signature does not verify");
  });

  test("PEM keys only: each token is verified with a key of its algorithm", async () => {
    const pems = await Authenticator.create(
      await config({ jwks: undefined, publicKeys: [await exportSPKI(es256.publicKey), await exportSPKI(rs256.publicKey)] }),
      false,
    );
    expect(await principalOf(pems, { email: "ada@example.com" }, rs256)).toBe("user:ada@example.com");
    expect(await principalOf(pems, { email: "ada@example.com" }, es256)).toBe("user:ada@example.com");
    expect(await refusal(pems.authenticate(bearer(await mint(stranger, { email: "e@example.com" })), undefined))).toBe(
      "the token was refused: its signature does not verify",
    );
    // An unsigned token is refused for its algorithm, before any key is tried.
    expect(await refusal(pems.authenticate(bearer(new UnsecuredJWT({ email: "a@example.com" }).encode()), undefined))).toMatch(
      /^the token was refused: its algorithm is not accepted \(RS256, .*EdDSA\)$/,
    );
  });

  test("each way a token is wrong has its reason", async () => {
    const reason = async (token: string) => refusal(both.authenticate(bearer(token), undefined));
    expect(await reason(await tokenFor(es256, "a@example.com", undefined, { expiresIn: -120, issuedAt: -600 }))).toBe(
      "the token was refused: it has expired",
    );
    expect(await reason(await tokenFor(es256, "a@example.com", undefined, { noExpiry: true }))).toBe('the token was refused: claim "exp" is missing');
    expect(await reason(await tokenFor(es256, "a@example.com", undefined, { issuer: "https://other.example" }))).toBe(
      'the token was refused: claim "iss" is not acceptable',
    );
    expect(await reason(await tokenFor(es256, "a@example.com", undefined, { audience: "other" }))).toBe('the token was refused: claim "aud" is not acceptable');
    expect(await reason(new UnsecuredJWT({ email: "a@example.com" }).encode())).toMatch(/^the token was refused: its algorithm is not accepted \(RS256, .*EdDSA\)$/);
    expect(await reason("not.a.jwt")).toBe("the token was refused: it is not a valid JWT");
  });

  test("within the clock tolerance a token is still (or already) valid", async () => {
    expect(await principalOf(both, { email: "a@example.com", exp: Math.floor(Date.now() / 1000) - 20 })).toBe("user:a@example.com");
    expect(await principalOf(both, { email: "a@example.com", nbf: Math.floor(Date.now() / 1000) + 20 })).toBe("user:a@example.com");
  });
});

describe("the caller a token names", () => {
  test("a verified (or unflagged) email, lower-cased, as user:", async () => {
    expect(await principalOf(both, { sub: "x", email: "Ada@Example.com", email_verified: true })).toBe("user:ada@example.com");
    expect(await principalOf(both, { sub: "x", email: "ada@example.com", email_verified: "TRUE" })).toBe("user:ada@example.com");
    expect(await principalOf(both, { sub: "x", email: "ada@example.com" })).toBe("user:ada@example.com");
  });

  test("an unverified email is ignored: the subject names the caller", async () => {
    for (const flag of [false, "false", 0, 1, "yes", null]) {
      expect(await principalOf(both, { sub: "bob@example.com", email: "ada@example.com", email_verified: flag }), String(flag)).toBe(
        "user:bob@example.com",
      );
    }
  });

  test("a subject is an email, or a user: or serviceAccount: principal; nothing wider", async () => {
    expect(await principalOf(both, { sub: "uid@example.com" })).toBe("user:uid@example.com");
    expect(await principalOf(both, { sub: "serviceAccount:ci@example.com" })).toBe("serviceAccount:ci@example.com");
    expect(await principalOf(both, { sub: "user:bob@example.com" })).toBe("user:bob@example.com");
    for (const claims of [{ sub: "12345" }, {}, { sub: "group:admins" }, { sub: "domain:example.com" }, { sub: "allUsers" }, { email: "group:admins" }]) {
      expect(await refusal(principalOf(both, claims)), JSON.stringify(claims)).toBe(
        "the token's subject is neither an email nor a user:/serviceAccount: principal",
      );
    }
  });

  test("the groups claim adds group: identities (strings only, invalid ids dropped); another claim can be named", async () => {
    const token = await mint(es256, { email: "ada@example.com", groups: ["ops@example.com", 7, "", "dev"], teams: ["x"] });
    expect((await both.authenticate(bearer(token), undefined)).identities).toEqual(["user:ada@example.com", "group:ops@example.com", "group:dev"]);
    const teams = await Authenticator.create(await config({ groupsClaim: "teams" }), false);
    expect((await teams.authenticate(bearer(token), undefined)).identities).toEqual(["user:ada@example.com", "group:x"]);
    const notAList = await mint(es256, { email: "ada@example.com", groups: "ops" });
    expect((await both.authenticate(bearer(notAList), undefined)).identities).toEqual(["user:ada@example.com"]);
  });
});

describe("client certificates", () => {
  const certificate = (subjectaltname: string | undefined, CN?: string | string[]) =>
    ({ subject: CN === undefined ? undefined : { CN }, subjectaltname }) as unknown as PeerCertificate;
  const callerOf = (cert: PeerCertificate) => both.authenticate(null, cert);

  test("a SAN email is a person (user:, lower-cased); otherwise the common name is a service account", async () => {
    expect(await callerOf(certificate("DNS:a.example, email:Pat@Example.com", "svc@example.com"))).toEqual({
      principal: "user:pat@example.com",
      identities: ["user:pat@example.com"],
    });
    expect((await callerOf(certificate("DNS:a.example", "svc@example.com"))).principal).toBe("serviceAccount:svc@example.com");
    expect((await callerOf(certificate(undefined, ["first@example.com", "second@example.com"]))).principal).toBe("serviceAccount:first@example.com");
  });

  test("an email: inside another entry's value is not an email SAN", async () => {
    expect((await callerOf(certificate('URI:"urn:x, email:eve@example.com"', "svc@example.com"))).principal).toBe("serviceAccount:svc@example.com");
    expect((await callerOf(certificate("URI:urn:email:eve@example.com", "svc@example.com"))).principal).toBe("serviceAccount:svc@example.com");
    // A broken quoted value ends the list: nothing after it is read.
    expect((await callerOf(certificate('URI:"bad\\q", email:eve@example.com', "svc@example.com"))).principal).toBe("serviceAccount:svc@example.com");
  });

  test("a certificate naming no email is UNAUTHENTICATED; a bearer token wins over a certificate", async () => {
    for (const cert of [certificate("", "group:ops"), certificate("", "opaque"), certificate(undefined), certificate("", [])]) {
      expect(await refusal(callerOf(cert))).toBe("the client certificate names no email address (SAN email or subject CN)");
    }
    const token = await tokenFor(es256, "ada@example.com");
    expect((await both.authenticate(bearer(token), certificate("email:pat@example.com"))).principal).toBe("user:ada@example.com");
  });
});
