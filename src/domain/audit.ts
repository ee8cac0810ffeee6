// The audit log facade: the change log of one resource, filtered and paginated.
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { AuditEntrySchema, type ListAuditEntriesRequest } from "../../gen/policy/v1/audit_service_pb.js";
import type { AuditEntry } from "../../gen/policy/v1/audit_service_pb.js";
import type { Store } from "../store/store.js";
import { Violations } from "../errors.js";
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

  /**
   * `wholeHistory`: also the entries of earlier, deleted resources of the same name (administrators); otherwise only
   * those of the resource registered under the name now, so a new owner never reads a predecessor's history.
   */
  async list(req: ListAuditEntriesRequest, wholeHistory: boolean): Promise<AuditPage> {
    requireResourceName(this.schema, "resource", req.resource);
    const violations = new Violations();
    checkTimestamp(req.startTime, "start_time", violations);
    checkTimestamp(req.endTime, "end_time", violations);
    violations.throwIfAny();
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
          currentOnly: !wholeHistory,
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

/** google.protobuf.Timestamp's valid range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z. */
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;

function checkTimestamp(t: Timestamp | undefined, field: string, violations: Violations): void {
  if (!t) return;
  if (t.seconds < MIN_SECONDS || t.seconds > MAX_SECONDS) {
    violations.add(`${field}.seconds`, "must be between 0001-01-01 and 9999-12-31 (a google.protobuf.Timestamp)");
  }
  if (t.nanos < 0 || t.nanos > 999_999_999) violations.add(`${field}.nanos`, "must be from 0 to 999,999,999");
}
