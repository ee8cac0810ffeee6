// policy check: may these principals do this on that resource? (AccessService.CheckAccess)
import { fromJson, toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import {
  AccessState,
  CheckAccessRequestSchema,
  CheckAccessResponseSchema,
} from "../../../gen/policy/v1/access_service_pb.js";
import { flag, list, RESOURCE_OPTIONS, str } from "../args.js";
import type { Context } from "../context.js";
import { EXIT_DENIED, EXIT_OK, UsageError } from "../command-errors.js";
import { conditionCell, print, table } from "../output.js";
import { normaliseMember } from "../policy-file.js";
import { resolveResource } from "../resource-ref.js";
import type { Command } from "./command.js";

/** `k=v`: v as JSON when it parses (true, 3, {"a":1}), else as a string (10.1.2.3). */
export function attributes(ctx: Context): JsonObject {
  const result: JsonObject = {};
  for (const pair of list(ctx.values, "attribute")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--attribute "${pair}" must be KEY=VALUE`, ctx.command);
    const raw = pair.slice(eq + 1);
    let value: JsonValue;
    try {
      value = JSON.parse(raw) as JsonValue;
    } catch {
      value = raw;
    }
    result[pair.slice(0, eq)] = value;
  }
  return result;
}

export function stateName(state: AccessState): string {
  return AccessState[state] ?? String(state);
}

export const check: Command = {
  help: {
    name: "check",
    summary: "check whether principals have permissions on a resource",
    usage: [
      "--resource-type TYPE [--resource-id ID] --principal PRINCIPAL... --permission PERMISSION... " +
        "[--attribute K=V...] [--explain]",
    ],
    details: [
      "e.g. policy check --resource-type project --resource-id prj_xyz789 --principal user:ada@example.com \\",
      "       --permission projects.get",
      "Exit status: 0 when every permission is granted, 3 when one is not, 1 on an error.",
      "An attribute value is read as JSON when it parses as JSON (true, 42, \"text\"), else taken as a string.",
    ],
  },
  options: {
    ...RESOURCE_OPTIONS,
    principal: {
      type: "string",
      multiple: true,
      value: "PRINCIPAL",
      help: "the subject: user:EMAIL and the group:IDs it belongs to",
    },
    permission: { type: "string", multiple: true, value: "PERMISSION", help: "a permission, e.g. projects.get" },
    attribute: {
      type: "string",
      multiple: true,
      value: "K=V",
      help: "a request attribute for conditions (request.attributes)",
    },
    explain: { type: "boolean", help: "also show the bindings that decided each permission" },
    "min-sequence": {
      type: "string",
      value: "N",
      help: "answer from state at least this fresh (a write's policy-sequence)",
    },
  },
  async run(ctx) {
    const permissions = list(ctx.values, "permission");
    if (permissions.length === 0) throw new UsageError("--permission is required (repeat it for several)", ctx.command);
    const minSequence = str(ctx.values, "min-sequence") ?? "0";
    if (!/^\d+$/.test(minSequence)) throw new UsageError("--min-sequence must be a whole number", ctx.command);
    const request = fromJson(CheckAccessRequestSchema, {
      resource: await resolveResource(ctx),
      principals: list(ctx.values, "principal").map(normaliseMember),
      permissions,
      attributes: attributes(ctx),
      explain: flag(ctx.values, "explain"),
      minSequence,
    });
    const response = await ctx.api.access.checkAccess(request);
    print(ctx, toJson(CheckAccessResponseSchema, response), () => {
      const lines = [table(["Permission", "Access"], response.results.map((r) => [r.permission, stateName(r.state)]))];
      if (request.explain) {
        const withCondition = response.results.some((r) => r.explanations.some((e) => e.condition !== undefined));
        const rows = response.results.flatMap((r) =>
          r.explanations.map((e) => [
            r.permission,
            e.role,
            e.resource,
            ...(withCondition ? [conditionCell(e.condition)] : []),
            e.matchedMember || "-",
            stateName(e.state),
            e.reason,
          ]),
        );
        const headers = ["Permission", "Role", "From", ...(withCondition ? ["Condition"] : []), "Member", "Access", "Reason"];
        lines.push(
          "",
          rows.length === 0
            ? "No binding on the resource or its ancestors has a role with these permissions."
            : table(headers, rows),
        );
      }
      return lines.join("\n");
    });
    return response.results.every((r) => r.state === AccessState.GRANTED) ? EXIT_OK : EXIT_DENIED;
  },
};
