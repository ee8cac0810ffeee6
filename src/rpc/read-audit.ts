// AuditConfig honoured for reads: a successful read of the policy.v1 API is written to the audit log (a structured
// log line, `"audit":"read"`) when the audit configs of the resource or an ancestor enable its log type for the
// service (or `allServices`), unless the caller is exempted. Writes are always audited, in the change log.
import type { Interceptor } from "@connectrpc/connect";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import { AuditLogConfig_LogType } from "../../gen/policy/v1/policy_pb.js";
import type { Access } from "../domain/access/access.js";
import { callerKey } from "./context.js";

// Checks and permission tests read the data the policies protect; everything else reads configuration.
const DATA_READS = new Set(["policy.v1.AccessService/CheckAccess", "policy.v1.PolicyService/TestIamPermissions"]);

export function readAuditInterceptor(access: Access, logger: Logger): Interceptor {
  return (next) => async (req) => {
    const res = await next(req);
    if (req.stream || !req.service.typeName.startsWith("policy.")) return res;
    if (req.method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) return res;
    const message = req.message as { resource?: string; name?: string; parent?: string };
    const resource = message.resource || message.name || message.parent;
    if (!resource) return res;
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const logType = DATA_READS.has(procedure) ? AuditLogConfig_LogType.DATA_READ : AuditLogConfig_LogType.ADMIN_READ;
    const caller = req.contextValues.get(callerKey);
    if (await access.auditsRead(resource, req.service.typeName, logType, caller.identities)) {
      logger.info(
        { audit: "read", logType: AuditLogConfig_LogType[logType], principal: caller.principal, procedure, resource },
        "audited read",
      );
    }
    return res;
  };
}
