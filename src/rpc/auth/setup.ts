// Builds authentication and authorization from the configuration, and enforces the development-mode rule: without
// any credential configured the server allows every call, so it may listen only on loopback unless told --insecure.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { Logger } from "pino";
import type { Config } from "../../config.js";
import type { Access } from "../../domain/access/access.js";
import { Authorizer } from "../../domain/access/authorizer.js";
import { canonicalMember } from "../../domain/members.js";
import type { ResourceSchema } from "../../domain/schema/schema.js";
import { Authenticator } from "./authenticator.js";

export async function createAuth(config: Config, access: Access, schema: ResourceSchema, logger: Logger) {
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
  const authorizer = new Authorizer(access, schema, new Set(admins), authenticator.enabled);
  return { authenticator, authorizer };
}

export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1" || host === "[::1]";
}
