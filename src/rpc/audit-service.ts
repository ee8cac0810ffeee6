// AuditService: thin adapter from RPC messages to the Audit facade.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { AuditService, ListAuditEntriesResponseSchema } from "../../gen/policy/v1/audit_service_pb.js";
import type { Audit } from "../domain/audit.js";

export function auditService(audit: Audit): ServiceImpl<typeof AuditService> {
  return {
    listAuditEntries: async (req) => create(ListAuditEntriesResponseSchema, await audit.list(req)),
  };
}
