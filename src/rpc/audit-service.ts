// AuditService: thin adapter from RPC messages to the Audit facade.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { AuditService, ListAuditEntriesResponseSchema } from "../../gen/policy/v1/audit_service_pb.js";
import type { Authorizer } from "../domain/access/authorizer.js";
import type { Audit } from "../domain/audit.js";
import { collectionOf } from "../domain/names.js";
import { callerOf, resolvedOf } from "./context.js";

export function auditService(audit: Audit, authorizer: Authorizer): ServiceImpl<typeof AuditService> {
  return {
    listAuditEntries: async (req, ctx) => {
      const caller = callerOf(ctx);
      // The policies written are shown to whoever may read the resource's policy, as GetPolicy would.
      const getPolicy = `${collectionOf(req.resource)}.getPolicy`;
      const withPolicies =
        authorizer.isUnrestricted(caller) ||
        (await authorizer.permissionsOf(caller, resolvedOf(ctx, req.resource), [getPolicy]).catch(() => [])).length > 0;
      return create(ListAuditEntriesResponseSchema, await audit.list(req, authorizer.isUnrestricted(caller), withPolicies));
    },
  };
}
