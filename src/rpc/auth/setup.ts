// Builds authentication and authorization from the configuration, and enforces the development-mode rule: without
// any credential configured the server allows every call, so it may listen only on loopback unless told --insecure.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { Logger } from "pino";
import { canonicalMember } from "../../domain/members.js";
import { Authenticator } from "./authenticator.js";

/** The settings authentication is made from (config.ts, whose flags they are, hands them over). */
export interface AuthSettings {
  host: string;
  insecure: boolean;
  tlsClientCa?: string;
  jwks?: string;
  jwtPublicKeys: readonly string[];
  jwtIssuer?: string;
  jwtAudience?: string;
  jwtGroupsClaim: string;
  admins: readonly string[];
}

/**
 * The authenticator and the bootstrap administrators; throws (before anything is opened or listens) when the
 * configuration is unsafe or invalid.
 */
export async function createAuthentication(config: AuthSettings, logger: Logger) {
  const tokens = {
    jwks: config.jwks ? JSON.parse(readFileSync(config.jwks, "utf8")) : undefined,
    publicKeys: config.jwtPublicKeys.map((file) => readFileSync(file, "utf8")),
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    groupsClaim: config.jwtGroupsClaim,
  };
  const authenticator = await Authenticator.create(tokens, config.tlsClientCa !== undefined);
  const admins = config.admins.map((admin) => {
    const result = canonicalMember(admin);
    if ("error" in result) throw new Error(`--admins: ${result.error}`);
    return result.member;
  });
  if (!authenticator.enabled) {
    if (!isLoopback(config.host) && !config.insecure) {
      throw new Error(
        `refusing to listen on ${config.host} without authentication: configure --jwks, --jwt-public-keys or ` +
          "--tls-client-ca, or pass --insecure to accept unauthenticated calls from the network",
      );
    }
    const message = "DEVELOPMENT MODE: no authentication configured; every caller may do everything";
    logger.warn({ host: config.host }, message);
    console.warn(`\n  !!! ${message} (listening on ${config.host}) !!!\n`);
  } else if (admins.length === 0) {
    logger.warn("authentication is on but no --admins are configured: nobody can create organizations");
  }
  if ((config.jwks || config.jwtPublicKeys.length > 0) && (!config.jwtIssuer || !config.jwtAudience)) {
    // Without them, any token the same keys signed (for another service, or by another tenant of the issuer) is
    // accepted here.
    logger.warn("bearer tokens are configured without --jwt-issuer and --jwt-audience: tokens for any audience are accepted");
  }
  return { authenticator, admins: new Set(admins) };
}

export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1" || host === "[::1]";
}
