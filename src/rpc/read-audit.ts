// AuditConfig honoured for reads: a successful read of the policy.v1 API is written to the audit log (a structured
// log line, `"audit":"read"`) when the audit configs of the resource or an ancestor enable its log type for the
// service (or `allServices`), unless the caller is exempted. Writes are always audited, in the change log. The
// resource is the one the call's authorization rule names, resolved once for the call (see the auth interceptor).
import type { DescMethod } from "@bufbuild/protobuf";
import type { Interceptor, StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import { AccessService } from "../../gen/policy/v1/access_service_pb.js";
import { AuditLogConfig_LogType } from "../../gen/policy/v1/policy_pb.js";
import { PolicyService } from "../../gen/policy/v1/policy_service_pb.js";
import type { Access } from "../domain/access/access.js";
import type { ResolvedResource } from "../domain/access/resolved.js";
import { observed, withMessage } from "./call-messages.js";
import { callScopeKey, callerKey } from "./context.js";
import { procedureOf } from "./interceptors.js";

// Checks and permission tests read the data the policies protect; everything else reads configuration.
const DATA_READS: ReadonlySet<DescMethod> = new Set([AccessService.method.checkAccess, PolicyService.method.testIamPermissions]);

export function readAuditInterceptor(access: Access, logger: Logger): Interceptor {
  return (next) => (req) => {
    // Set by the auth interceptor before this runs: a call without a target (or a write) has nothing to audit, and
    // goes on without a promise or closure of its own.
    const resource = req.contextValues.get(callScopeKey)?.target;
    if (!resource || req.method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) return next(req);
    return auditing(req, next, resource, access, logger);
  };
}

async function auditing<R extends UnaryRequest | StreamRequest>(
  req: R,
  next: (req: R) => Promise<UnaryResponse | StreamResponse>,
  resource: ResolvedResource,
  access: Access,
  logger: Logger,
): Promise<UnaryResponse | StreamResponse> {
  const res = await next(req);
  if (!res.stream) {
    await audit(req, resource, access, logger);
    return res;
  }
  // A stream has succeeded as a read once it hands on data (a long-lived stream may never end).
  return withMessage(res, observed(res.message, { first: () => audit(req, resource, access, logger) }));
}

/** Logs the read when the audit configs on the resource's chain enable its log type for the caller. */
async function audit(req: UnaryRequest | StreamRequest, resource: ResolvedResource, access: Access, logger: Logger): Promise<void> {
  const logType = DATA_READS.has(req.method) ? AuditLogConfig_LogType.DATA_READ : AuditLogConfig_LogType.ADMIN_READ;
  const caller = req.contextValues.get(callerKey);
  if (await access.auditsRead(resource, req.service.typeName, logType, caller.identities)) {
    logger.info(
      {
        audit: "read",
        logType: AuditLogConfig_LogType[logType],
        principal: caller.principal,
        procedure: procedureOf(req.method),
        resource: resource.name,
      },
      "audited read",
    );
  }
}
