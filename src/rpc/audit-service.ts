// AuditService: thin adapter from RPC messages to the Audit facade.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { AuditService, ListAuditEntriesResponseSchema } from "../../gen/policy/v1/audit_service_pb.js";
import type { Authorizer } from "../domain/access/authorizer.js";
import type { Audit } from "../domain/audit.js";
import { readPermission } from "../domain/access/read-permissions.js";
import { callerOf, resolvedOf } from "./context.js";

export function auditService(audit: Audit, authorizer: Authorizer): ServiceImpl<typeof AuditService> {
  return {
    listAuditEntries: (req, ctx) => {
      const caller = callerOf(ctx);
      const unrestricted = authorizer.isUnrestricted(caller);
      // A policy written is shown to whoever may read that resource's policy, as GetPolicy on it would allow.
      const policyReadable = unrestricted ? undefined : (name: string) => authorizer.heldSince(caller, resolvedOf(ctx, name), readPermission(name, "policy"));
      return audit.list(req, unrestricted, policyReadable).then((page) => create(ListAuditEntriesResponseSchema, page));
    },
  };
}
