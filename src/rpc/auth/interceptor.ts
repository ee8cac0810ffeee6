// Authenticates every call of the policy.v1 API and applies its authorization rule before the handler runs.
// Health and reflection stay open: load balancers and `buf curl --list-methods` need no credentials.
import type { Interceptor } from "@connectrpc/connect";
import { ANONYMOUS, type Authorizer } from "../../domain/access/authorizer.js";
import type { ResourceSchema } from "../../domain/schema/schema.js";
import { ServiceError } from "../../errors.js";
import { callerKey, peerCertificateKey } from "../context.js";
import type { Authenticator } from "./authenticator.js";
import { RULES } from "./rules.js";

export function authInterceptor(authenticator: Authenticator, authorizer: Authorizer, schema: ResourceSchema): Interceptor {
  return (next) => async (req) => {
    if (!req.service.typeName.startsWith("policy.")) return next(req);
    // In development mode there is nobody to authenticate: skip reading (and, on the gRPC port, building) the headers.
    const caller = authenticator.enabled
      ? await authenticator.authenticate(req.header.get("authorization"), req.contextValues.get(peerCertificateKey))
      : ANONYMOUS;
    req.contextValues.set(callerKey, caller);
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const rule = RULES[procedure];
    if (!rule) throw new ServiceError("permission_denied", `no authorization rule for ${procedure}`);
    if (!req.stream) {
      await rule(req.message as never, {
        require: (resource, permission) => authorizer.require(caller, resource, permission),
        requireAdmin: (what) => authorizer.requireAdmin(caller, what),
      }, schema);
    }
    return next(req);
  };
}
