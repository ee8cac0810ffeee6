// The audit log facade: the change log of one resource, filtered and paginated.
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { AuditEntrySchema, type ListAuditEntriesRequest } from "../../gen/policy/v1/audit_service_pb.js";
import type { AuditEntry } from "../../gen/policy/v1/audit_service_pb.js";
import type { Store } from "../store/store.js";
import { requireResourceName } from "./names.js";
import type { PageTokens } from "./page-token.js";
import type { ResourceSchema } from "./schema/schema.js";

export interface AuditPage {
  entries: AuditEntry[];
  nextPageToken: string;
}

export class Audit {
  constructor(
    private readonly store: Store,
    private readonly schema: ResourceSchema,
    private readonly pageTokens: PageTokens,
  ) {}

  async list(req: ListAuditEntriesRequest): Promise<AuditPage> {
    requireResourceName(this.schema, "resource", req.resource);
    const ms = (t: Timestamp | undefined) => (t ? timestampDate(t).getTime() : undefined);
    const filter = JSON.stringify(["ListAuditEntries", req.resource, req.principal, ms(req.startTime), ms(req.endTime)]);
    const page = await this.pageTokens.page(
      req,
      filter,
      (after, limit) =>
        this.store.listAuditRecords({
          resource: req.resource,
          principal: req.principal || undefined,
          startMs: ms(req.startTime),
          endMs: ms(req.endTime),
          afterSeq: after === undefined ? undefined : Number(after),
          limit,
        }),
      (record) => String(record.seq),
    );
    return {
      entries: page.items.map((r) =>
        create(AuditEntrySchema, {
          sequence: BigInt(r.seq),
          time: timestampFromMs(r.timeMs),
          principal: r.principal,
          action: r.action,
          resource: r.resource,
          etagBefore: r.etagBefore,
          etagAfter: r.etagAfter,
        }),
      ),
      nextPageToken: page.nextPageToken,
    };
  }
}
