// Authentication as the server builds it from its configuration (src/rpc/auth/setup.ts), without starting a server:
// which credentials are accepted (a JWKS file, PEM files, their issuer, audience and groups claim, client
// certificates), the bootstrap administrators, the development-mode rule (no credential: loopback only unless
// --insecure, and said loudly), and the warnings an operator gets about a risky configuration.
// test/security/dev-mode.test.ts and tokens.test.ts check the same through a running server.
import type { PeerCertificate } from "node:tls";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { createAuthentication, isLoopback, type AuthSettings } from "../../src/rpc/auth/setup.js";
import { removeDir } from "../helpers/temp-dir.js";
import { AUDIENCE, capturingLogger, ISSUER, mint, signingKey, tempDir, writeJwks, writePem, type SigningKey } from "../helpers/secure-server.js";

const DEV_MODE = /DEVELOPMENT MODE: no authentication configured; every caller may do everything/;

function settings(overrides: Partial<AuthSettings> = {}): AuthSettings {
  return { host: "127.0.0.1", insecure: false, jwtPublicKeys: [], jwtGroupsClaim: "groups", admins: [], ...overrides };
}

/** createAuthentication with its warnings: the log's (level 40) and the console's. */
async function setUp(config: AuthSettings) {
  const consoleWarn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
  const log = capturingLogger();
  const result = await createAuthentication(config, log.logger);
  return {
    ...result,
    warnings: log.lines.filter((l) => l.level === 40).map((l) => ({ msg: String(l.msg), host: l.host })),
    console: consoleWarn.mock.calls.flat().join("\n"),
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

let key: SigningKey;
let other: SigningKey;
let dir: string;
beforeAll(async () => {
  key = await signingKey("ES256");
  other = await signingKey("ES256");
  dir = tempDir();
});
afterAll(() => removeDir(dir));

const token = (signer: SigningKey, claims: Record<string, unknown> = {}, audience: string = AUDIENCE) =>
  mint(signer, { sub: "uid-1", email: "ada@example.com", email_verified: true, ...claims }, { audience });

describe("bearer tokens", () => {
  test("from a JWKS file: its keys' tokens authenticate, with the configured groups claim; others are refused", async () => {
    const jwks = await writeJwks(join(dir, "jwks.json"), [key]);
    const { authenticator, warnings, console } = await setUp(
      settings({ jwks, jwtIssuer: ISSUER, jwtAudience: AUDIENCE, jwtGroupsClaim: "teams", admins: ["user:root@example.com"] }),
    );
    expect(authenticator.enabled).toBe(true);
    expect(await authenticator.authenticate(`Bearer ${await token(key, { teams: ["eng"], groups: ["ops"] })}`, undefined)).toEqual({
      principal: "user:ada@example.com",
      identities: ["user:ada@example.com", "group:eng"],
    });
    await expect(authenticator.authenticate(`Bearer ${await token(other)}`, undefined)).rejects.toThrow(/the token was refused/);
    // The audience configured is checked.
    await expect(authenticator.authenticate(`Bearer ${await token(key, {}, "another-service")}`, undefined)).rejects.toThrow(/the token was refused/);
    expect(warnings).toEqual([]);
    expect(console).toBe("");
  });

  test("from PEM files: each file's key authenticates its tokens; the issuer configured is checked", async () => {
    const pems = [await writePem(join(dir, "a.pem"), key), await writePem(join(dir, "b.pem"), other)];
    const { authenticator, warnings } = await setUp(
      settings({ jwtPublicKeys: pems, jwtIssuer: "https://another-issuer.example", jwtAudience: AUDIENCE, admins: ["user:root@example.com"] }),
    );
    // Both keys sign tokens of this suite's issuer, which is not the one configured.
    await expect(authenticator.authenticate(`Bearer ${await token(other)}`, undefined)).rejects.toThrow(/the token was refused/);
    const { authenticator: second } = await setUp(settings({ jwtPublicKeys: pems, jwtIssuer: ISSUER, jwtAudience: AUDIENCE }));
    expect((await second.authenticate(`Bearer ${await token(key)}`, undefined)).principal).toBe("user:ada@example.com");
    expect((await second.authenticate(`Bearer ${await token(other, { groups: ["ops"] })}`, undefined)).identities).toEqual([
      "user:ada@example.com",
      "group:ops",
    ]);
    expect(warnings).toEqual([]);
  });

  test("without an issuer or an audience the operator is warned that tokens for any audience are accepted", async () => {
    const pem = await writePem(join(dir, "k.pem"), key);
    const jwks = await writeJwks(join(dir, "k.json"), [key]);
    const warning = { msg: "bearer tokens are configured without --jwt-issuer and --jwt-audience: tokens for any audience are accepted", host: undefined };
    for (const config of [
      settings({ jwtPublicKeys: [pem], jwtIssuer: ISSUER }),
      settings({ jwtPublicKeys: [pem], jwtAudience: AUDIENCE }),
      settings({ jwks, jwtIssuer: ISSUER }),
      settings({ jwks }),
    ]) {
      const { warnings, authenticator } = await setUp({ ...config, admins: ["user:root@example.com"] });
      expect(warnings).toEqual([warning]);
      // And indeed: a token for another audience is accepted when no audience is configured.
      if (!config.jwtAudience) expect((await authenticator.authenticate(`Bearer ${await token(key, {}, "elsewhere")}`, undefined)).principal).toBe("user:ada@example.com");
    }
    // Client certificates alone have no audience to configure.
    const { warnings } = await setUp(settings({ tlsClientCa: "ca.pem", admins: ["user:root@example.com"] }));
    expect(warnings).toEqual([]);
  });
});

describe("client certificates", () => {
  test("a client CA turns authentication on: a verified certificate names the caller, and no credential is refused", async () => {
    const { authenticator, warnings, console } = await setUp(settings({ host: "0.0.0.0", tlsClientCa: "ca.pem", admins: ["user:root@example.com"] }));
    expect(authenticator.enabled).toBe(true);
    const certificate = { subject: { CN: "deployer@acme.example.com" } } as unknown as PeerCertificate;
    expect((await authenticator.authenticate(null, certificate)).principal).toBe("serviceAccount:deployer@acme.example.com");
    await expect(authenticator.authenticate(null, undefined)).rejects.toThrow(/no credentials: send a client certificate/);
    expect(warnings).toEqual([]);
    expect(console).toBe("");
  });
});

describe("administrators", () => {
  test("are the canonical members named; a name that is not a member fails at start", async () => {
    const { admins } = await setUp(settings({ tlsClientCa: "ca.pem", admins: ["user:root@example.com", "group:ops"] }));
    expect([...admins].sort()).toEqual(["group:ops", "user:root@example.com"]);
    await expect(setUp(settings({ admins: ["user:root@example.com", "root"] }))).rejects.toThrow(/^--admins: "root" is not a member/);
  });

  test("authentication without administrators is warned about: nobody can create organizations", async () => {
    const { warnings, admins } = await setUp(settings({ tlsClientCa: "ca.pem" }));
    expect(admins.size).toBe(0);
    expect(warnings).toEqual([{ msg: "authentication is on but no --admins are configured: nobody can create organizations", host: undefined }]);
  });
});

describe("development mode (no credential configured)", () => {
  test("on loopback: every call is anonymous, and it is said loudly, in the log and on the console", async () => {
    for (const host of ["127.0.0.1", "localhost", "::1"]) {
      const { authenticator, warnings, console } = await setUp(settings({ host }));
      expect(authenticator.enabled).toBe(false);
      expect(await authenticator.authenticate("Bearer not-a-jwt", undefined)).toEqual({ principal: "anonymous", identities: [] });
      expect(warnings).toEqual([{ msg: "DEVELOPMENT MODE: no authentication configured; every caller may do everything", host }]);
      expect(console).toMatch(DEV_MODE);
      expect(console).toContain(`(listening on ${host})`);
    }
  });

  test("a non-loopback address is refused unless --insecure, and then said loudly too", async () => {
    for (const host of ["0.0.0.0", "10.1.2.3", "::"]) {
      await expect(setUp(settings({ host, admins: ["user:root@example.com"] }))).rejects.toThrow(
        `refusing to listen on ${host} without authentication: configure --jwks, --jwt-public-keys or --tls-client-ca, ` +
          "or pass --insecure to accept unauthenticated calls from the network",
      );
      const { authenticator, console } = await setUp(settings({ host, insecure: true }));
      expect(authenticator.enabled).toBe(false);
      expect(console).toMatch(DEV_MODE);
    }
  });
});

describe("what counts as loopback", () => {
  test.each(["127.0.0.1", "127.8.9.10", "localhost", "::1", "[::1]"])("%s is loopback", (host) => {
    expect(isLoopback(host)).toBe(true);
  });

  test.each(["0.0.0.0", "::", "", "10.1.2.3", "::ffff:127.0.0.1", "127.0.0.1.nip.io", "127.example.com", "localhost.example.com", "128.0.0.1", "::2"])(
    "%j is not",
    (host) => {
      expect(isLoopback(host)).toBe(false);
    },
  );
});
