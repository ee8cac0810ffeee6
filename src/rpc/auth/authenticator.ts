// Who is calling: a bearer JWT verified with jose against configured keys (a JWKS file or PEM public keys; issuer
// and audience checked; clock skew bounded), or a client certificate verified by TLS against the configured CA.
import type { PeerCertificate } from "node:tls";
import { createLocalJWKSet, errors, importSPKI, jwtVerify, type JSONWebKeySet, type JWTPayload } from "jose";
import { ServiceError } from "../../errors.js";
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
    const options = { issuer: tokens.issuer, audience: tokens.audience, clockTolerance: CLOCK_TOLERANCE_SECONDS, algorithms: ALGORITHMS };
    const jwks = tokens.jwks && createLocalJWKSet(tokens.jwks);
    const keys = await Promise.all(tokens.publicKeys.map((pem) => importPem(pem)));
    const verify: Verify = async (token) => {
      if (jwks) {
        try {
          return (await jwtVerify(token, jwks, options)).payload;
        } catch (e) {
          if (keys.length === 0 || !(e instanceof errors.JWKSNoMatchingKey)) throw e;
        }
      }
      let last: unknown;
      for (const key of keys) {
        try {
          return (await jwtVerify(token, key, options)).payload;
        } catch (e) {
          last = e;
          if (!(e instanceof errors.JWSSignatureVerificationFailed) && !(e instanceof errors.JOSEAlgNotAllowed)) throw e;
        }
      }
      throw last;
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
    throw unauthenticated("no credentials: send `authorization: Bearer <JWT>`" + (this.certificates ? " or a client certificate" : ""));
  }

  private callerOfToken(payload: JWTPayload): Caller {
    const email = typeof payload.email === "string" && payload.email_verified !== false ? payload.email : undefined;
    const principal = principalOf(email ?? payload.sub ?? "", "user");
    if (!principal) throw unauthenticated("the token's subject is neither an email nor a user:/serviceAccount: principal");
    const claim = payload[this.groupsClaim];
    const groups = Array.isArray(claim) ? claim.filter((g): g is string => typeof g === "string") : [];
    return { principal, identities: [principal, ...groups.flatMap((g) => principalOf(`group:${g}`, "group") ?? [])] };
  }
}

function callerOfCertificate(certificate: PeerCertificate): Caller {
  // An email in the subject alternative names is a person; otherwise the common name names a service account.
  const email = /email:([^,\s]+)/.exec(certificate.subjectaltname ?? "")?.[1];
  const cn = certificate.subject?.CN;
  const principal = email ? principalOf(email, "user") : principalOf(Array.isArray(cn) ? (cn[0] ?? "") : (cn ?? ""), "serviceAccount");
  if (!principal) throw unauthenticated("the client certificate names no email address (SAN email or subject CN)");
  return { principal, identities: [principal] };
}

/** `value` as a canonical principal: already prefixed, or an email given the `kind` prefix. */
function principalOf(value: string, kind: "user" | "serviceAccount" | "group"): string | undefined {
  const prefixed = /^(user|serviceAccount|group):/.test(value) ? value : `${kind}:${value}`;
  const result = canonicalMember(prefixed);
  return "member" in result ? result.member : undefined;
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
  if (e instanceof errors.JWTClaimValidationFailed) return `claim "${e.claim}" is not acceptable`;
  if (e instanceof errors.JWSSignatureVerificationFailed || e instanceof errors.JWKSNoMatchingKey) return "its signature does not verify";
  return "it is not a valid JWT";
}

function unauthenticated(message: string): ServiceError {
  return new ServiceError("unauthenticated", message);
}
