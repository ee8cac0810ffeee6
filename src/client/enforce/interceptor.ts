// A connect-es interceptor for a service's own Connect/gRPC server (connect-node's `interceptors`): each call is
// mapped by the author's rule to (resource, permission), checked on a mirror or by the RPC, and refused with
// PERMISSION_DENIED — the same message whatever the reason, so a refusal tells the caller nothing about the policies
// (which rule, which resource, whether it exists). A checker that cannot answer (the mirror failing closed, the
// server down) is UNAVAILABLE: retryable, and still nothing leaked.
import { Code, ConnectError, type Interceptor, type StreamRequest, type UnaryRequest } from "@connectrpc/connect";
import { decide, type EnforceOptions } from "./decision.js";

/** What a rule sees of a call: its method, headers and (for a unary call) its request message. */
export interface EnforcedCall {
  /** e.g. `acme.v1.ProjectService/DeleteProject`. */
  procedure: string;
  method: (UnaryRequest | StreamRequest)["method"];
  header: Headers;
  /** The request message of a unary call; undefined for a streaming one (map it by its headers). */
  message: unknown;
}

export function enforceInterceptor(options: EnforceOptions<EnforcedCall>): Interceptor {
  return (next) => async (req: UnaryRequest | StreamRequest) => {
    const call: EnforcedCall = {
      procedure: `${req.service.typeName}/${req.method.name}`,
      method: req.method,
      header: req.header,
      message: req.stream ? undefined : req.message,
    };
    const verdict = await decide(options, call);
    if (verdict === "allow") return next(req);
    if (verdict === "error") throw new ConnectError("authorization is unavailable; retry later", Code.Unavailable);
    throw new ConnectError("permission denied", Code.PermissionDenied);
  };
}
