// Output formats: an aligned table for people (the default), JSON and YAML (protobuf JSON field names) for scripts;
// and, in Anyscale's style (`-o anyscale`, `style: anyscale`), the shapes of Anyscale's policy CLI and SDK.
import { toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { stringify } from "yaml";
import { PolicySchema, SyncStatus, type Policy } from "../../gen/policy/v1/policy_pb.js";
import type { Context } from "./context.js";

/** Columns padded to their widest cell, two spaces apart; no trailing spaces. `rule`: dashes under the headers. */
export function table(headers: string[], rows: string[][], { rule = false } = {}): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const dashes = rule ? [line(widths.map((w) => "-".repeat(w)))] : [];
  return [line(headers), ...dashes, ...rows.map(line)].join("\n");
}

/** Prints `document` as JSON or YAML, or `human()` (a table or a sentence) for the table format. */
export function print(ctx: Context, document: JsonValue, human: () => string): void {
  switch (ctx.settings.output) {
    case "json":
      ctx.io.stdout(JSON.stringify(document, null, 2));
      return;
    case "yaml":
      ctx.io.stdout(stringify(document));
      return;
    default:
      ctx.io.stdout(human());
  }
}

/** A timestamp for a table cell (ISO 8601, UTC); empty when unset. */
export function timeCell(ts: Timestamp | undefined): string {
  return ts ? timestampDate(ts).toISOString() : "";
}

/** `SUCCESS` for SYNC_STATUS_SUCCESS. */
export function syncStatusName(status: SyncStatus): string {
  return status === SyncStatus.UNSPECIFIED ? "-" : (SyncStatus[status] ?? String(status));
}

/** A binding's condition for a table cell: its title, else its expression. */
export function conditionCell(condition: { expression: string; title: string } | undefined): string {
  if (!condition) return "";
  return condition.title || condition.expression;
}

/** The rows of a policy: one per member of each binding. */
export function policyRows(policy: Policy, withCondition: boolean, prefix: string[] = []): string[][] {
  const status = syncStatusName(policy.syncStatus);
  return policy.bindings.flatMap((b) =>
    b.members.map((m) => [...prefix, b.role, m, ...(withCondition ? [conditionCell(b.condition)] : []), status]),
  );
}

export function hasConditions(policies: Policy[]): boolean {
  return policies.some((p) => p.bindings.some((b) => b.condition !== undefined));
}

/** Anyscale's table of a policy: Role, Principal, (Condition,) Status. */
export function policyTable(resource: string, policy: Policy): string {
  if (policy.bindings.length === 0) return `${resource} has no bindings.`;
  const withCondition = hasConditions([policy]);
  const headers = ["Role", "Principal", ...(withCondition ? ["Condition"] : []), "Status"];
  return table(headers, policyRows(policy, withCondition));
}

/** Prints a policy: the table, or its protobuf JSON (which `policy set -f` reads back) as JSON or YAML. */
export function printPolicy(ctx: Context, resource: string, policy: Policy): void {
  if (ctx.settings.style === "anyscale") {
    const { type, id } = anyscaleResource(ctx, resource);
    print(ctx, anyscalePolicy(policy), () => `Policy for ${type} ${id}:\n${anyscaleTable(policy)}`);
    return;
  }
  print(ctx, toJson(PolicySchema, policy), () => policyTable(resource, policy));
}

/** Anyscale's names for a resource: its type (`cloud`) and its id (`cld_abc123`). */
export function anyscaleResource(ctx: Context, name: string): { type: string; id: string } {
  const [collection, id] = name.split("/") as [string, string];
  return { type: ctx.schema.typesByCollection.get(collection)?.name ?? collection, id };
}

/** `roles/collaborator` as Anyscale names it: `collaborator`. */
export function anyscaleRole(role: string): string {
  return role.startsWith("roles/") ? role.slice("roles/".length) : role;
}

/**
 * A member as Anyscale shows it: a user group id bare (`ug_abc123`), a user's email bare; other kinds keep their
 * prefix. Policy files read bare ids back as groups and bare emails as users, so the shapes round-trip.
 */
export function anyscalePrincipal(member: string): string {
  if (member.startsWith("group:")) return member.slice("group:".length);
  if (member.startsWith("user:")) return member.slice("user:".length);
  return member;
}

/** Anyscale's PolicySyncStatus: pending, success or failed. */
export function anyscaleSyncStatus(policy: Policy): string {
  return syncStatusName(policy.syncStatus).toLowerCase();
}

/** Anyscale's Policy.to_dict(): `bindings` of `role_name` and `principals`, and `sync_status`. */
export function anyscalePolicy(policy: Policy): JsonObject {
  return {
    bindings: policy.bindings.map((b) => ({ role_name: anyscaleRole(b.role), principals: b.members.map(anyscalePrincipal) })),
    sync_status: anyscaleSyncStatus(policy),
  };
}

/** Anyscale's ResourcePolicy.to_dict(). */
export function anyscaleResourcePolicy(ctx: Context, resource: string, policy: Policy): JsonObject {
  const { type, id } = anyscaleResource(ctx, resource);
  return { resource_id: id, resource_type: type, ...anyscalePolicy(policy) };
}

/** Anyscale's table: Role, Principal (User Group ID), Process Status, a dashed rule, one row per principal. */
export function anyscaleTable(policy: Policy): string {
  const status = anyscaleSyncStatus(policy);
  const rows = policy.bindings.flatMap((b) => b.members.map((m) => [anyscaleRole(b.role), anyscalePrincipal(m), status]));
  return table(["Role", "Principal (User Group ID)", "Process Status"], rows, { rule: true });
}
