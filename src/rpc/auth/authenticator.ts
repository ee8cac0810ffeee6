// Who is calling: a bearer JWT verified with jose against configured keys (a JWKS file or PEM public keys; issuer
// and audience checked; clock skew bounded), or a client certificate verified by TLS against the configured CA.
import type { PeerCertificate } from "node:tls";
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JSONWebKeySet,
  type JWTPayload,
} from "jose";
import { ServiceError } from "../../service-error.js";
import { canonicalMember } from "../../domain/members.js";
import { ANONYMOUS, type Caller } from "../../domain/access/authorizer.js";

export interface TokenConfig {
  jwks?: JSONWebKeySet;
  /** PEM SPKI public keys. */
  publicKeys: string[];
  issuer?: string;
  audience?: string;
  /** The claim naming the caller's groups (an array of group ids). */
  groupsClaim: string;
}

/** Accepted clock difference between the token's issuer and this server. */
export const CLOCK_TOLERANCE_SECONDS = 60;
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

type Verify = (token: string) => Promise<JWTPayload>;

export class Authenticator {
  private constructor(
    private readonly verify: Verify | undefined,
    private readonly groupsClaim: string,
    /** Client certificates are verified by TLS against a configured CA. */
    private readonly certificates: boolean,
  ) {}

  static async create(tokens: TokenConfig | undefined, clientCertificates: boolean): Promise<Authenticator> {
    if (!tokens || (!tokens.jwks && tokens.publicKeys.length === 0)) {
      return new Authenticator(undefined, tokens?.groupsClaim ?? "groups", clientCertificates);
    }
    const options = {
      issuer: tokens.issuer,
      audience: tokens.audience,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      algorithms: ALGORITHMS,
      // A bearer token without an expiry would be valid forever.
      requiredClaims: ["exp"],
    };
    const jwks = tokens.jwks && createLocalJWKSet(tokens.jwks);
    // Fail at start on a file that is not a public key; each key is then imported for the algorithm a token names
    // (an RSA key serves RS* and PS*; a key of another type than the token's is skipped, not an error).
    await Promise.all(tokens.publicKeys.map((pem) => importPem(pem)));
    const keys = tokens.publicKeys.map((pem) => pemKey(pem));
    const verify: Verify = async (token) => {
      if (jwks) {
        try {
          return (await jwtVerify(token, jwks, options)).payload;
        } catch (e) {
          // Several keys of the JWKS fit a token without `kid` (e.g. during a rotation): try each of them.
          if (e instanceof errors.JWKSMultipleMatchingKeys) return verifyWithCandidates(token, e, options);
          if (keys.length === 0 || !(e instanceof errors.JWKSNoMatchingKey)) throw e;
        }
      }
      const alg = decodeProtectedHeader(token).alg ?? "";
      if (!ALGORITHMS.includes(alg)) throw new errors.JOSEAlgNotAllowed(`"alg" (Algorithm) Header Parameter value not allowed`);
      for (const keyFor of keys) {
        const key = await keyFor(alg);
        if (!key) continue;
        try {
          return (await jwtVerify(token, key, options)).payload;
        } catch (e) {
          if (!(e instanceof errors.JWSSignatureVerificationFailed)) throw e;
        }
      }
      throw new errors.JWSSignatureVerificationFailed();
    };
    return new Authenticator(verify, tokens.groupsClaim, clientCertificates);
  }

  /** Whether any credential is configured; without one the server runs in development mode. */
  get enabled(): boolean {
    return this.verify !== undefined || this.certificates;
  }

  /** The caller of a request with these headers and this verified client certificate; UNAUTHENTICATED when none. */
  async authenticate(authorization: string | null, certificate: PeerCertificate | undefined): Promise<Caller> {
    if (!this.enabled) return ANONYMOUS;
    if (authorization) {
      if (!this.verify) throw unauthenticated("bearer tokens are not configured on this server");
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!match) throw unauthenticated("the authorization header must be `Bearer <JWT>`");
      let payload: JWTPayload;
      try {
        payload = await this.verify(match[1]!);
      } catch (e) {
        throw unauthenticated(`the token was refused: ${reason(e)}`);
      }
      return this.callerOfToken(payload);
    }
    if (certificate && this.certificates) return callerOfCertificate(certificate);
    const ways = [this.verify ? "`authorization: Bearer <JWT>`" : "", this.certificates ? "a client certificate" : ""];
    throw unauthenticated(`no credentials: send ${ways.filter(Boolean).join(" or ")}`);
  }

  private callerOfToken(payload: JWTPayload): Caller {
    // A token that says anything about verification must say true (some providers send the string "true"): "False",
    // 0 or "no" leave the email unverified. A token without the claim vouches for its email by its issuer's signature.
    const flag = payload.email_verified;
    const unverified = flag !== undefined && flag !== true && !(typeof flag === "string" && flag.toLowerCase() === "true");
    const email = typeof payload.email === "string" && !unverified ? payload.email : undefined;
    // The email claim is an email address; the subject may also name its kind, but only user: or serviceAccount: (a
    // token must not make its bearer a group, a domain or everyone).
    const principal = email !== undefined ? principalOf(email, "user") : principalOf(payload.sub ?? "", "user", ["user", "serviceAccount"]);
    if (!principal) throw unauthenticated("the token's subject is neither an email nor a user:/serviceAccount: principal");
    const claim = payload[this.groupsClaim];
    const groups = Array.isArray(claim) ? claim.filter((g): g is string => typeof g === "string") : [];
    return { principal, identities: [principal, ...groups.flatMap((g) => memberOf(`group:${g}`) ?? [])] };
  }
}

function callerOfCertificate(certificate: PeerCertificate): Caller {
  // An email in the subject alternative names is a person; otherwise the common name names a service account.
  const email = subjectAltNames(certificate.subjectaltname ?? "").find((name) => name.type === "email")?.value;
  const cn = certificate.subject?.CN;
  const principal = email ? principalOf(email, "user") : principalOf(Array.isArray(cn) ? (cn[0] ?? "") : (cn ?? ""), "serviceAccount");
  if (!principal) throw unauthenticated("the client certificate names no email address (SAN email or subject CN)");
  return { principal, identities: [principal] };
}

/**
 * Node's `subjectaltname` (`DNS:a, IP Address:1.2.3.4, email:x@y, URI:...`) as entries. A value with a separator or a
 * quote in it is JSON-quoted by Node, so an entry cannot be forged inside another one's value (`URI:urn:email:x@y`
 * is a URI, not an email).
 */
function subjectAltNames(text: string): { type: string; value: string }[] {
  const entries: { type: string; value: string }[] = [];
  const entry = /([^:,]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/y;
  while (entry.lastIndex < text.length) {
    const match = entry.exec(text);
    if (!match) break;
    let value = match[2]!;
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        break;
      }
    }
    entries.push({ type: match[1]!, value });
  }
  return entries;
}

/**
 * `value` as a canonical principal: an email given the `kind` prefix, or a principal already prefixed with one of
 * `prefixes` (by default none: the value must be a plain email address).
 */
function principalOf(value: string, kind: "user" | "serviceAccount", prefixes: readonly string[] = []): string | undefined {
  const colon = value.indexOf(":");
  const prefixed = colon > 0 && prefixes.includes(value.slice(0, colon)) ? value : `${kind}:${value}`;
  return memberOf(prefixed);
}

function memberOf(member: string): string | undefined {
  const result = canonicalMember(member);
  return "member" in result ? result.member : undefined;
}

/** Imports a PEM public key for a token's algorithm; undefined when the key is of another type. Cached per algorithm. */
function pemKey(pem: string): (alg: string) => Promise<CryptoKey | undefined> {
  const imported = new Map<string, Promise<CryptoKey | undefined>>();
  return (alg) => {
    let key = imported.get(alg);
    if (!key) {
      key = importSPKI(pem, alg).catch(() => undefined);
      imported.set(alg, key);
    }
    return key;
  };
}

/** Verifies `token` with each candidate key of a JWKS in turn. */
async function verifyWithCandidates(
  token: string,
  candidates: errors.JWKSMultipleMatchingKeys,
  options: Parameters<typeof jwtVerify>[2],
): Promise<JWTPayload> {
  for await (const key of candidates) {
    try {
      return (await jwtVerify(token, key, options)).payload;
    } catch (e) {
      if (!(e instanceof errors.JWSSignatureVerificationFailed)) throw e;
    }
  }
  throw new errors.JWSSignatureVerificationFailed();
}

async function importPem(pem: string) {
  for (const alg of ["RS256", "ES256", "ES384", "ES512", "EdDSA", "PS256"]) {
    try {
      return await importSPKI(pem, alg);
    } catch {
      // try the next algorithm family
    }
  }
  throw new Error("a --jwt-public-key file is not a PEM public key (SPKI) of RSA, EC or Ed25519");
}

function reason(e: unknown): string {
  if (e instanceof errors.JWTExpired) return "it has expired";
  if (e instanceof errors.JWTClaimValidationFailed) {
    return e.reason === "missing" ? `claim "${e.claim}" is missing` : `claim "${e.claim}" is not acceptable`;
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return `its algorithm is not accepted (${ALGORITHMS.join(", ")})`;
  if (e instanceof errors.JWSSignatureVerificationFailed || e instanceof errors.JWKSNoMatchingKey) return "its signature does not verify";
  return "it is not a valid JWT";
}

function unauthenticated(message: string): ServiceError {
  return new ServiceError("unauthenticated", message);
}
