// policy audit list (AuditService.ListAuditEntries) and policy test-permissions (PolicyService.TestIamPermissions):
// who changed what, and which permissions the caller itself holds.
import { toJson } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { AuditEntrySchema } from "../../../gen/policy/v1/audit_service_pb.js";
import { TestIamPermissionsResponseSchema } from "../../../gen/policy/v1/policy_service_pb.js";
import { list, RESOURCE_OPTIONS, str } from "../args.js";
import type { Context } from "../context.js";
import { EXIT_DENIED, EXIT_OK, UsageError } from "../command-errors.js";
import { print, table } from "../output.js";
import { allPages } from "../pages.js";
import { resolveResource } from "../resource-ref.js";
import type { Command } from "./command.js";

function time(ctx: Context, flagName: string) {
  const value = str(ctx.values, flagName);
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new UsageError(`--${flagName} "${value}" is not a time (e.g. 2025-01-31 or 2025-01-31T12:00:00Z)`, ctx.command);
  }
  return timestampFromDate(date);
}

export const auditList: Command = {
  help: {
    name: "audit list",
    summary: "list the audit log of a resource: every write, who made it and when",
    usage: ["--resource-type TYPE [--resource-id ID] [--principal PRINCIPAL] [--since TIME] [--until TIME] [--limit N]"],
    details: ["e.g. policy audit list --resource-type cloud --resource-id cld_abc123 --since 2025-01-01"],
  },
  options: {
    ...RESOURCE_OPTIONS,
    principal: { type: "string", value: "PRINCIPAL", help: "only the writes of this caller, e.g. user:ada@example.com" },
    since: { type: "string", value: "TIME", help: "only entries at or after this time (ISO 8601)" },
    until: { type: "string", value: "TIME", help: "only entries before this time (ISO 8601)" },
    limit: { type: "string", value: "N", help: "at most N entries (default 100)" },
  },
  async run(ctx) {
    const limit = Number(str(ctx.values, "limit") ?? "100");
    if (!Number.isInteger(limit) || limit <= 0) throw new UsageError("--limit must be a positive whole number", ctx.command);
    const resource = await resolveResource(ctx);
    const [startTime, endTime] = [time(ctx, "since"), time(ctx, "until")];
    const entries = await allPages(async (pageToken) => {
      const page = await ctx.api.audit.listAuditEntries({
        resource,
        principal: str(ctx.values, "principal") ?? "",
        startTime,
        endTime,
        pageSize: Math.min(limit, 1000),
        pageToken,
      });
      return [page.entries, page.nextPageToken];
    }, limit);
    print(ctx, { entries: entries.map((e) => toJson(AuditEntrySchema, e)) }, () =>
      entries.length === 0
        ? "No audit entries."
        : table(
            ["Sequence", "Time", "Principal", "Action", "Resource"],
            entries.map((e) => [
              String(e.sequence),
              e.time ? timestampDate(e.time).toISOString() : "",
              e.principal || "-",
              e.action,
              e.resource,
            ]),
          ),
    );
  },
};

export const testPermissions: Command = {
  help: {
    name: "test-permissions",
    summary: "which of these permissions do I (the caller) have on a resource? (TestIamPermissions)",
    usage: ["--resource-type TYPE [--resource-id ID] --permission PERMISSION..."],
    details: [
      "e.g. policy test-permissions --resource-type project --resource-id prj_xyz789 --permission projects.delete",
      "Exit status: 0 when the caller has every permission, 3 when not.",
    ],
  },
  options: {
    ...RESOURCE_OPTIONS,
    permission: { type: "string", multiple: true, value: "PERMISSION", help: "a permission, e.g. projects.get" },
  },
  async run(ctx) {
    const permissions = list(ctx.values, "permission");
    if (permissions.length === 0) throw new UsageError("--permission is required (repeat it for several)", ctx.command);
    const resource = await resolveResource(ctx);
    const response = await ctx.api.policies.testIamPermissions({ resource, permissions });
    const granted = new Set(response.permissions);
    print(ctx, toJson(TestIamPermissionsResponseSchema, response), () =>
      table(["Permission", "Granted"], permissions.map((p) => [p, granted.has(p) ? "yes" : "no"])),
    );
    return permissions.every((p) => granted.has(p)) ? EXIT_OK : EXIT_DENIED;
  },
};
