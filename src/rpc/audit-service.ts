// AuditService: thin adapter from RPC messages to the Audit facade.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { AuditService, ListAuditEntriesResponseSchema } from "../../gen/policy/v1/audit_service_pb.js";
import type { Authorizer } from "../domain/access/authorizer.js";
import type { Audit } from "../domain/audit.js";
import { callerOf } from "./context.js";

export function auditService(audit: Audit, authorizer: Authorizer): ServiceImpl<typeof AuditService> {
  return {
    listAuditEntries: async (req, ctx) =>
      create(ListAuditEntriesResponseSchema, await audit.list(req, authorizer.isUnrestricted(callerOf(ctx)))),
  };
}
