// Authenticates every call of the policy.v1 API and applies its authorization rule once before the handler runs,
// for unary and server-streaming calls alike. Health and reflection stay open: load balancers and
// `buf curl --list-methods` need no credentials.
import type { DescMessage, DescMethod, MessageShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { ANONYMOUS, type Authorizer } from "../../domain/access/authorizer.js";
import type { CallResources } from "../../domain/access/resolved.js";
import type { ResourceSchema } from "../../schema/schema.js";
import { ServiceError } from "../../service-error.js";
import { peekFirst, withMessage } from "../call-messages.js";
import { callScopeKey, callerKey, peerCertificateKey } from "../context.js";
import { procedureOf } from "../interceptors.js";
import { API_SERVICES } from "../../api-services.js";
import type { Authenticator } from "./authenticator.js";
import { AUTHORIZATION_RULES, methodsWithoutAuthorizationRule, type Checks, type AuthorizationRule } from "./authorization-rules.js";

/** Throws (at startup) when a method of the API has no rule: refusing every call of it would be found too late. */
export function authInterceptor(
  authenticator: Authenticator,
  authorizer: Authorizer,
  schema: ResourceSchema,
  rules: ReadonlyMap<DescMethod, AuthorizationRule> = AUTHORIZATION_RULES,
): Interceptor {
  const missing = methodsWithoutAuthorizationRule(API_SERVICES, rules);
  if (missing.length > 0) throw new Error(`no authorization rule for ${missing.map(procedureOf).join(", ")}`);
  // Development mode: nobody to authenticate and every check passes, so a unary call only needs its target
  // resolved; it skips the checks and the promise and closures they would cost.
  const open = !authenticator.enabled && !authorizer.enforcing;
  return (next) => (req) => {
    if (!req.service.typeName.startsWith("policy.")) return next(req);
    const rule = rules.get(req.method);
    if (open && rule && !req.stream) {
      scope(req, rule, req.message, authorizer.callResources());
      return next(req);
    }
    return authorized(req, next, rule);
  };

  async function authorized<R extends UnaryRequest | StreamRequest>(
    req: R,
    next: (req: R) => Promise<UnaryResponse | StreamResponse>,
    rule: AuthorizationRule | undefined,
  ): Promise<UnaryResponse | StreamResponse> {
    // In development mode there is nobody to authenticate: skip reading (and, on the gRPC port, building) the headers.
    const caller = authenticator.enabled
      ? await authenticator.authenticate(req.header.get("authorization"), req.contextValues.get(peerCertificateKey))
      : ANONYMOUS;
    req.contextValues.set(callerKey, caller);
    // Also refuses a method of another policy.* service, and client and bidi streams (no rule can cover them).
    if (!rule) throw new ServiceError("permission_denied", `no authorization rule for ${procedureOf(req.method)}`);
    const resources = authorizer.callResources();
    const checks: Checks = {
      require: (resource, permission) => authorizer.require(caller, resources.of(resource), permission),
      requireAdmin: (what) => authorizer.requireAdmin(caller, what),
    };
    if (!req.stream) {
      scope(req, rule, req.message, resources);
      await rule.authorize(req.message, checks, schema);
      return next(req);
    }
    if (req.method.methodKind !== "server_streaming") {
      throw new ServiceError("permission_denied", `no authorization rule for ${procedureOf(req.method)}`);
    }
    const request = await peekFirst(req.message);
    if (!request) throw new ConnectError("a server-streaming call needs its request message", Code.InvalidArgument);
    scope(req, rule, request.first, resources);
    await rule.authorize(request.first, checks, schema);
    return next(withMessage(req, request.all) as R);
  }
}

/** Resolves the call's target (as its rule names it) for the handler and read auditing. */
function scope(req: UnaryRequest | StreamRequest, rule: AuthorizationRule, message: MessageShape<DescMessage>, resources: CallResources): void {
  const target = rule.resource?.(message);
  req.contextValues.set(callScopeKey, { resources, target: target ? resources.of(target) : undefined });
}
