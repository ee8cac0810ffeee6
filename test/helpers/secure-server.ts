// Servers with authentication and what calls them, for the security tests and every folder whose tests call as a
// principal: signing keys and tokens, servers configured with them, clients that present a token or a client
// certificate, certificates made with openssl, and expected failures.
import { toBinary } from "@bufbuild/protobuf";
import { execFileSync } from "node:child_process";
import { EventEmitter } from "node:events";
import { Writable } from "node:stream";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from "jose";
import { pino, type Logger } from "pino";
import { PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { ResourceSchema, type Resource } from "../../gen/policy/v1/resource_pb.js";
import type { Config } from "../../src/config.js";
import { apiClients as clientsAt, CALL_TIMEOUT_MS, type ApiClients, type ClientOptions } from "./clients.js";
import { uniqueId } from "./ids.js";
import { tempDir } from "./temp-dir.js";
import { startTestServer, type TestServer } from "./server.js";
export { CALL_TIMEOUT_MS, type ApiClients, type ClientOptions, type Protocol } from "./clients.js";
export { uniqueId } from "./ids.js";
export { tempDir } from "./temp-dir.js";

export const ISSUER = "https://issuer.example.test";
export const AUDIENCE = "policy-service";
export const ADMIN = "user:root@example.com";


// ---------------------------------------------------------------------------------------------------------------------
// Keys and tokens

export type Alg = "ES256" | "ES384" | "RS256" | "PS256" | "EdDSA";

export interface SigningKey {
  alg: Alg;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

export async function signingKey(alg: Alg, kid = `${alg.toLowerCase()}-${uniqueId("k")}`): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, publicKey };
}

/** Writes `keys` as a JWKS file (public parts only, with kid, alg and use). */
export async function writeJwks(file: string, keys: SigningKey[]): Promise<string> {
  const jwks = { keys: await Promise.all(keys.map(async (k) => ({ ...(await exportJWK(k.publicKey)), kid: k.kid, alg: k.alg, use: "sig" }))) };
  writeFileSync(file, JSON.stringify(jwks, null, 2));
  return file;
}

/** Writes the public key of `key` as a PEM SPKI file. */
export async function writePem(file: string, key: SigningKey): Promise<string> {
  writeFileSync(file, await exportSPKI(key.publicKey));
  return file;
}

export interface MintOptions {
  /** Seconds from now; default 600. */
  expiresIn?: number;
  /** Seconds from now of `nbf`; default none. */
  notBefore?: number;
  /** Seconds from now of `iat`; default 0. */
  issuedAt?: number;
  issuer?: string | null;
  audience?: string | string[] | null;
  /** Leave `exp` out. */
  noExpiry?: boolean;
  kid?: string | null;
}

/** A signed JWT with `claims`, by default valid for this suite's issuer and audience for ten minutes. */
export async function mint(key: SigningKey, claims: JWTPayload, options: MintOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const kid = options.kid === undefined ? key.kid : options.kid;
  let jwt = new SignJWT(claims)
    .setProtectedHeader(kid === null ? { alg: key.alg, typ: "JWT" } : { alg: key.alg, typ: "JWT", kid })
    .setIssuedAt(now + (options.issuedAt ?? 0));
  const issuer = options.issuer === undefined ? ISSUER : options.issuer;
  const audience = options.audience === undefined ? AUDIENCE : options.audience;
  if (issuer !== null) jwt = jwt.setIssuer(issuer);
  if (audience !== null) jwt = jwt.setAudience(audience);
  if (!options.noExpiry) jwt = jwt.setExpirationTime(now + (options.expiresIn ?? 600));
  if (options.notBefore !== undefined) jwt = jwt.setNotBefore(now + options.notBefore);
  return jwt.sign(key.privateKey);
}

/** A token for `email` (as the `email` claim, `sub` an opaque id) with optional groups. */
export function tokenFor(key: SigningKey, email: string, groups?: string[], options?: MintOptions): Promise<string> {
  return mint(key, { sub: `uid-${email}`, email, email_verified: true, ...(groups ? { groups } : {}) }, options);
}

// ---------------------------------------------------------------------------------------------------------------------
// Servers and clients

export type SecureServer = TestServer;

/** Starts a server on loopback with a fresh database (in `dir`); `overrides` configure authentication. */
export function startSecureServer(overrides: Partial<Config> = {}, dir = tempDir(), logger?: Logger): Promise<SecureServer> {
  return startTestServer(overrides, { dir, logger });
}

/** A server that trusts tokens signed by `keys` (a JWKS file) for this suite's issuer and audience, ADMIN its admin. */
export async function startTokenServer(keys: SigningKey[], logger?: Logger): Promise<SecureServer> {
  const dir = tempDir();
  const jwks = await writeJwks(join(dir, "jwks.json"), keys);
  return startSecureServer({ jwks, jwtIssuer: ISSUER, jwtAudience: AUDIENCE, admins: [ADMIN] }, dir, logger);
}

/** The two ports a test runs its calls through: the main port (Connect) and the grpc-js port (gRPC). */
export type Port = "main (Connect)" | "grpc-js port";
export const PORTS: Port[] = ["main (Connect)", "grpc-js port"];

/** Clients of `server` on `port` presenting a token for `email`. */
export async function clientsAs(server: SecureServer, key: SigningKey, email: string, port: Port = "main (Connect)"): Promise<ApiClients> {
  const token = await tokenFor(key, email);
  return port === "main (Connect)"
    ? apiClients(server.url, { token })
    : apiClients(`http://${server.grpcAddress}`, { token, protocol: "grpc" });
}

/** Clients of every service at `baseUrl` (default: Connect JSON over HTTP/1.1), every call with a deadline. */
export function apiClients(baseUrl: string, options: ClientOptions = {}): ApiClients {
  return clientsAt(baseUrl, { protocol: "connect", timeoutMs: CALL_TIMEOUT_MS, ...options });
}

// ---------------------------------------------------------------------------------------------------------------------
// Failures

export { expectCode, failureOf } from "./call-failures.js";

/** A binding of `role` to `members`. */
export function binding(role: string, ...members: string[]) {
  return { role, members };
}

// ---------------------------------------------------------------------------------------------------------------------
// Certificates (openssl)

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: "pipe", timeout: 20_000 });
}

/** Makes a self-signed CA `{name}.pem` / `{name}.key` in `dir`. */
export function makeCa(dir: string, name: string): { cert: string; key: string } {
  openssl(
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
      "-subj", `/CN=${name} test CA`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
      "-keyout", `${name}.key`, "-out", `${name}.pem`],
    dir,
  );
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

/**
 * Makes a certificate `{name}.pem` / `{name}.key` in `dir` with subject `subject` (e.g. `/CN=svc@example.com`), signed
 * by `ca`, with the given extensions (e.g. `subjectAltName=email:ada@example.com`, `extendedKeyUsage=clientAuth`).
 */
export function makeCert(
  dir: string,
  name: string,
  subject: string,
  ca: { cert: string; key: string },
  extensions: string[],
): { cert: string; key: string } {
  openssl(
    ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", subject,
      "-keyout", `${name}.key`, "-out", `${name}.csr`],
    dir,
  );
  writeFileSync(join(dir, `${name}.ext`), extensions.join("\n") + "\n");
  openssl(
    ["x509", "-req", "-in", `${name}.csr`, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-days", "1",
      "-extfile", `${name}.ext`, "-out", `${name}.pem`],
    dir,
  );
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

// ---------------------------------------------------------------------------------------------------------------------
// Stored state

/** Every resource (all pages of ListResources without parent), as the administrator sees it. */
export async function allResources(admin: ApiClients): Promise<Resource[]> {
  const resources: Resource[] = [];
  let pageToken = "";
  do {
    const page = await admin.resources.listResources({ pageSize: 1000, pageToken });
    resources.push(...page.resources);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return resources;
}

/**
 * The stored state as bytes: every resource, the policy of each (GetPolicy at version 3) and its audit entries. Equal
 * snapshots mean nothing was written.
 */
export async function snapshot(admin: ApiClients): Promise<string[]> {
  const lines: string[] = [];
  for (const resource of await allResources(admin)) {
    lines.push(`resource ${Buffer.from(toBinary(ResourceSchema, resource)).toString("base64")}`);
    const policy = await admin.policies.getPolicy({ resource: resource.name, options: { requestedPolicyVersion: 3 } });
    lines.push(`policy ${resource.name} ${Buffer.from(toBinary(PolicySchema, policy)).toString("base64")}`);
    const audit = await admin.audit.listAuditEntries({ resource: resource.name, pageSize: 1000 });
    lines.push(`audit ${resource.name} ${audit.entries.length} ${audit.entries.at(-1)?.sequence ?? 0}`);
  }
  return lines;
}

export type LogLine = Record<string, unknown>;

export interface CapturedLog {
  logger: Logger;
  /** Every line so far, parsed. */
  lines: LogLine[];
  /** The first line (so far or to come) that `matches`; rejects after `withinMs` without one. */
  line(matches: (line: LogLine) => boolean, withinMs?: number): Promise<LogLine>;
}

/** A pino logger (level info unless told) whose lines are collected, parsed, in `lines`. */
export function capturingLogger(level = "info"): CapturedLog {
  const lines: LogLine[] = [];
  const written = new EventEmitter();
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const text of String(chunk).split("\n").filter(Boolean)) {
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        written.emit("line", line);
      }
      done();
    },
  });
  const line = (matches: (line: LogLine) => boolean, withinMs = CALL_TIMEOUT_MS) => {
    const found = lines.find(matches);
    if (found) return Promise.resolve(found);
    return new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(() => {
        written.off("line", check);
        reject(new Error(`no log line as expected within ${withinMs} ms`));
      }, withinMs);
      const check = (l: LogLine) => {
        if (!matches(l)) return;
        clearTimeout(timer);
        written.off("line", check);
        resolve(l);
      };
      written.on("line", check);
    });
  };
  return { logger: pino({ level }, stream), lines, line };
}
