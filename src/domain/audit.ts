// The audit log facade: the change log of one resource (or of its subtree), filtered, in either order, paginated;
// each policy write with the policy it wrote and the one it replaced, so that a reader sees the change itself.
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { AuditEntrySchema, type ListAuditEntriesRequest } from "../../gen/policy/v1/audit_service_pb.js";
import type { AuditEntry } from "../../gen/policy/v1/audit_service_pb.js";
import type { Policy } from "../../gen/policy/v1/policy_pb.js";
import { CHANGE_ACTIONS, changeAction, isChangeAction, oldestSequence, type AuditQuery, type AuditRecord, type ChangeAction, type Store } from "../store/store.js";
import { Violations, quoted } from "../service-error.js";
import { requireResourceName } from "./names.js";
import { pageSize, type PageTokens } from "./page-token.js";
import type { ResourceSchema } from "../schema/schema.js";

/** Every action the change log records (AuditEntry.action). */
export const AUDIT_ACTIONS = CHANGE_ACTIONS;

/** With include_descendants, the change-log sequences one page examines at most (the subtree is not indexed). */
export const SUBTREE_SCAN = 10_000;

/** The writes whose entries show the policy written and the one replaced. */
const POLICY_WRITES: readonly ChangeAction[] = [changeAction("policy", "set"), changeAction("policy", "delete")];

/** The rows that decide what a resource's policy was before a write: the previous write, or its creation. */
const POLICY_HISTORY: readonly ChangeAction[] = [...POLICY_WRITES, changeAction("resource", "create")];

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
   * `policyReadable(name)`: from which sequence on the caller may read the policies written to `name` — the creation
   * of the resource registered under it now, when the caller may read its policy; undefined: never. Without it, every
   * entry shows the policies it wrote and replaced (administrators).
   */
  async list(
    req: ListAuditEntriesRequest,
    wholeHistory: boolean,
    policyReadable?: (name: string) => Promise<number | undefined>,
  ): Promise<AuditPage> {
    requireResourceName(this.schema, "resource", req.resource);
    const violations = new Violations();
    checkTimestamp(req.startTime, "start_time", violations);
    checkTimestamp(req.endTime, "end_time", violations);
    const order = req.orderBy.trim().replace(/\s+/g, " ");
    if (!["", "sequence", "sequence asc", "sequence desc"].includes(order)) {
      violations.add("order_by", `${quoted(req.orderBy)} is not an order; use "sequence" (oldest first) or "sequence desc" (newest first)`);
    }
    if (req.action !== "" && !isChangeAction(req.action)) {
      violations.add("action", `unknown action ${quoted(req.action)}; known actions: ${AUDIT_ACTIONS.join(", ")}`);
    }
    violations.throwIfAny();
    const newestFirst = order === "sequence desc";
    const ms = (t: Timestamp | undefined) => (t ? timestampDate(t).getTime() : undefined);
    const filter = JSON.stringify([
      "ListAuditEntries",
      req.resource,
      req.principal,
      ms(req.startTime),
      ms(req.endTime),
      newestFirst,
      req.action,
      req.includeDescendants,
    ]);
    const query: Omit<AuditQuery, "limit"> = {
      resource: req.resource,
      principal: req.principal || undefined,
      startMs: ms(req.startTime),
      endMs: ms(req.endTime),
      actions: req.action ? [req.action] : undefined,
      descendants: req.includeDescendants || undefined,
      newestFirst,
      currentOnly: !wholeHistory,
    };
    const page = req.includeDescendants
      ? await this.subtreePage(req, filter, query)
      : await this.pageTokens.page(
          req,
          filter,
          (after, limit) =>
            this.store.listAuditRecords({
              ...query,
              ...(after === undefined ? {} : newestFirst ? { beforeSeq: Number(after) } : { afterSeq: Number(after) }),
              limit,
            }),
          (record) => String(record.seq),
        );
    // One check per resource whose policy writes the page holds (a subtree's page holds many resources' entries).
    const since = new Map<string, Promise<number | undefined>>();
    const withPolicy = async (r: AuditRecord): Promise<boolean> => {
      if (!isChangeAction(r.action) || !POLICY_WRITES.includes(r.action)) return false;
      if (!policyReadable) return true;
      let readableFrom = since.get(r.resource);
      if (!readableFrom) since.set(r.resource, (readableFrom = policyReadable(r.resource)));
      // A write to a resource since removed, or to a predecessor of the same name: administrators only, as in Watch.
      const from = await readableFrom;
      return from !== undefined && from <= r.seq;
    };
    const entries = await Promise.all(page.items.map(async (r) => this.entryOf(r, await withPolicy(r))));
    return { entries, nextPageToken: page.nextPageToken };
  }

  /**
   * A page of a subtree's log: the matches among at most SUBTREE_SCAN sequences from where the last page stopped, so
   * a page costs the same however large the log; a page that stopped there continues past what it examined.
   */
  private async subtreePage(req: ListAuditEntriesRequest, filter: string, query: Omit<AuditQuery, "limit">) {
    const limit = pageSize(req.pageSize);
    const after = this.pageTokens.decode(req.pageToken, filter);
    const [oldest, latest] = await Promise.all([oldestSequence(this.store), this.store.latestSequence()]);
    // The window of sequences examined: (low, high), exclusive.
    let low: number;
    let high: number;
    if (query.newestFirst) {
      high = after === undefined ? latest + 1 : Number(after);
      low = Math.max(oldest - 1, high - 1 - SUBTREE_SCAN, -1);
    } else {
      low = after === undefined ? oldest - 1 : Number(after);
      high = Math.min(latest + 1, low + 1 + SUBTREE_SCAN);
    }
    const rows = await this.store.listAuditRecords({ ...query, afterSeq: low, beforeSeq: high, limit: limit + 1 });
    const items = rows.slice(0, limit);
    let next: number | undefined;
    if (rows.length > limit) next = items.at(-1)!.seq;
    else if (query.newestFirst ? low >= oldest : high <= latest) next = query.newestFirst ? low + 1 : high - 1;
    return { items, nextPageToken: next === undefined ? "" : this.pageTokens.encode(filter, String(next)) };
  }

  private async entryOf(r: AuditRecord, withPolicy: boolean): Promise<AuditEntry> {
    const entry = create(AuditEntrySchema, {
      sequence: BigInt(r.seq),
      time: timestampFromMs(r.timeMs),
      principal: r.principal,
      action: r.action,
      resource: r.resource,
      etagBefore: r.etagBefore,
      etagAfter: r.etagAfter,
    });
    if (withPolicy) {
      entry.policy = r.policy;
      entry.policyBefore = await this.policyBefore(r);
    }
    return entry;
  }

  /** The resource's policy as the write before `r` left it; undefined when it had none (or it is no longer logged). */
  private async policyBefore(r: AuditRecord): Promise<Policy | undefined> {
    const [previous] = await this.store.listAuditRecords({
      resource: r.resource,
      actions: POLICY_HISTORY,
      beforeSeq: r.seq,
      newestFirst: true,
      limit: 1,
    });
    return previous?.policy;
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
