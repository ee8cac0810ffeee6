// Output formats: an aligned table for people (the default), JSON and YAML (protobuf JSON field names) for scripts.
import { toJson, type JsonValue } from "@bufbuild/protobuf";
import { stringify } from "yaml";
import { PolicySchema, SyncStatus, type Policy } from "../../gen/policy/v1/policy_pb.js";
import type { Context } from "./context.js";

/** Columns padded to their widest cell, two spaces apart; no trailing spaces. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
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
  print(ctx, toJson(PolicySchema, policy), () => policyTable(resource, policy));
}
