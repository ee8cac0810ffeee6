// policy set | get | delete | list | lookup: whole policies.
import { toJson } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { readFileSync } from "node:fs";
import {
  DeletePolicyResponseSchema,
  EffectivePolicySchema,
  ResourcePolicySchema,
} from "../../../gen/policy/v1/policy_service_pb.js";
import { SyncStatus } from "../../../gen/policy/v1/policy_pb.js";
import { flag, list as values, required, RESOURCE_OPTIONS, str } from "../args.js";
import type { Context } from "../context.js";
import { CliError, LocalError, UsageError } from "../command-errors.js";
import {
  anyscalePolicy,
  anyscaleResource,
  anyscaleResourcePolicy,
  anyscaleTable,
  conditionCell,
  hasConditions,
  policyRows,
  print,
  printPolicy,
  syncStatusName,
  table,
} from "../output.js";
import { parsePolicyFile } from "../policy-file.js";
import { allPages } from "../pages.js";
import { parentName, resolveResource, resourceType } from "../resource-ref.js";
import type { Command } from "./command.js";

const RESOURCE_USAGE = "--resource-type TYPE [--resource-id ID]";

/** A file's text; `-` reads standard input. */
export async function readSource(ctx: Context, file: string): Promise<string> {
  if (file === "-") return ctx.io.stdin();
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new LocalError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

export const set: Command = {
  help: {
    name: "set",
    summary: "replace the policy of a resource with the bindings of a YAML or JSON file",
    usage: [`${RESOURCE_USAGE} -f FILE [--etag ETAG | --no-overwrite | --force]`, `${RESOURCE_USAGE} -f - < policy.yaml`],
    details: [
      "The file is Anyscale's form or IAM's (`policy get -o yaml` writes one it accepts back):",
      "",
      "  bindings:                              bindings:",
      "    - role_name: collaborator              - role: roles/collaborator",
      "      principals: [ug_abc123]                members: [group:ug_abc123, user:ada@example.com]",
      "                                         etag: BwYd3Jm2Cfs=",
      "",
      "Bare roles become roles/{name}, bare emails user:{email}, other bare principals group:{id}.",
      "Without an etag, set replaces whatever is stored, as Anyscale's `policy set` and IAM's setIamPolicy do.",
      "With one (in the file, or --etag), the write happens only if nobody changed the policy since it was read",
      "(else ABORTED): edit the output of `policy get -o yaml` and set it back. --no-overwrite writes only a",
      "resource that has no bindings yet; --force ignores the file's etag.",
    ],
  },
  options: {
    ...RESOURCE_OPTIONS,
    "config-file": { type: "string", short: "f", value: "FILE", help: "the policy file; - reads standard input" },
    file: { type: "string", value: "FILE", help: "the same as --config-file (Anyscale's name is -f/--config-file)" },
    etag: { type: "string", value: "ETAG", help: "write only if the stored policy still has this etag (else ABORTED)" },
    "no-overwrite": { type: "boolean", help: "write only if the resource has no bindings yet (else FAILED_PRECONDITION)" },
    force: { type: "boolean", help: "overwrite the stored policy, ignoring any etag in the file" },
  },
  async run(ctx) {
    const file = str(ctx.values, "config-file") ?? str(ctx.values, "file");
    if (file === undefined || file === "") throw new UsageError("--file is required (-f, --config-file)", ctx.command);
    const etag = str(ctx.values, "etag");
    const force = flag(ctx.values, "force");
    const noOverwrite = flag(ctx.values, "no-overwrite");
    if ([etag !== undefined, force, noOverwrite].filter(Boolean).length > 1) {
      throw new UsageError("--force and --etag and --no-overwrite exclude each other: give one", ctx.command);
    }
    const resource = await resolveResource(ctx);
    const parsed = parsePolicyFile(await readSource(ctx, file), file === "-" ? "<stdin>" : file);
    const policy = parsed.policy;
    if (force) policy.etag = new Uint8Array();
    else if (etag !== undefined) policy.etag = base64(etag, ctx.command);
    else if (noOverwrite) {
      // Conditional on the empty policy's etag, so that a writer that got there first makes this fail too.
      const current = await ctx.api.policies.getPolicy({ resource, options: { requestedPolicyVersion: 3 } });
      if (current.bindings.length > 0) {
        throw new CliError(
          `${resource} already has a policy (${current.bindings.length} binding(s)): not overwriting it (--no-overwrite)`,
          "leave out --no-overwrite to replace it, or edit the output of `policy get ... -o yaml` and set that",
          Code.FailedPrecondition,
        );
      }
      policy.etag = current.etag;
    }
    const paths = ["bindings", "etag", ...(parsed.hasAuditConfigs ? ["audit_configs"] : [])];
    const stored = await ctx.api.policies.setPolicy({ resource, policy, updateMask: { paths } });
    if (ctx.settings.style === "anyscale") {
      const { type, id } = anyscaleResource(ctx, resource);
      print(ctx, anyscalePolicy(stored), () => `Policy for ${type} ${id} has been updated.`);
    } else printPolicy(ctx, resource, stored);
  },
};

export const get: Command = {
  help: {
    name: "get",
    summary: "show the policy of a resource",
    usage: [`${RESOURCE_USAGE} [-o table|json|yaml]`],
    details: ["`-o yaml` prints the policy with its etag, ready to edit and give back to `policy set -f`."],
  },
  options: {
    ...RESOURCE_OPTIONS,
    "policy-version": {
      type: "string",
      value: "N",
      help: "the highest policy version understood: 3 (default) shows conditions; 1 hides them as IAM does",
    },
  },
  async run(ctx) {
    const resource = await resolveResource(ctx);
    const version = Number(str(ctx.values, "policy-version") ?? "3");
    if (![0, 1, 3].includes(version)) throw new UsageError("--policy-version must be 0, 1 or 3", ctx.command);
    const policy = await ctx.api.policies.getPolicy({ resource, options: { requestedPolicyVersion: version } });
    printPolicy(ctx, resource, policy);
  },
};

export const remove: Command = {
  help: {
    name: "delete",
    summary: "remove the policy of a resource (the resource stays)",
    usage: [`${RESOURCE_USAGE} [--etag ETAG]`],
  },
  options: {
    ...RESOURCE_OPTIONS,
    etag: { type: "string", value: "ETAG", help: "delete only if the policy still has this etag (else ABORTED)" },
  },
  async run(ctx) {
    const resource = await resolveResource(ctx);
    const etag = str(ctx.values, "etag");
    const request = { resource, etag: etag ? base64(etag, ctx.command) : undefined };
    const response = await ctx.api.policies.deletePolicy(request);
    print(ctx, toJson(DeletePolicyResponseSchema, response), () => `Deleted the policy of ${resource}.`);
  },
};

function base64(etag: string, command: string): Uint8Array {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(etag)) {
    throw new UsageError(`--etag "${etag}" is not an etag as \`policy get -o yaml\` prints it (base64)`, command);
  }
  return new Uint8Array(Buffer.from(etag, "base64"));
}

export const list: Command = {
  help: {
    name: "list",
    summary: "list the resources of one type that have bindings, with their policies",
    usage: ["--resource-type TYPE [--parent NAME]"],
    details: ["e.g. policy list --resource-type cloud --parent organizations/acme"],
  },
  options: {
    "resource-type": RESOURCE_OPTIONS["resource-type"]!,
    parent: { type: "string", value: "NAME", help: "only resources beneath this one, at any depth" },
    "sync-status": {
      type: "string",
      value: "STATUS",
      multiple: true,
      help: "only policies with this sync status: pending, success or failed",
    },
  },
  async run(ctx) {
    const typeName = required(ctx.values, "resource-type", ctx.command);
    const type = resourceType(ctx, typeName);
    const parent = str(ctx.values, "parent");
    const syncStatuses = values(ctx.values, "sync-status").map((s) => {
      const status = SyncStatus[s.toUpperCase() as keyof typeof SyncStatus];
      if (status === undefined || status === SyncStatus.UNSPECIFIED) {
        throw new UsageError(`--sync-status "${s}" is not pending, success or failed`, ctx.command);
      }
      return status;
    });
    const all = await allPages(async (pageToken) => {
      const page = await ctx.api.policies.listPolicies({
        resourceType: type.name,
        parent: parent ? parentName(ctx, parent) : "",
        pageSize: 1000,
        pageToken,
        syncStatuses,
      });
      return [page.resourcePolicies, page.nextPageToken];
    });
    // What was asked, for an empty answer: "No cloud beneath organizations/acme has a policy with sync status FAILED."
    const none = `No ${type.name}${parent ? ` beneath ${parent}` : ""} has a policy ${
      syncStatuses.length === 0 ? "with bindings" : `with sync status ${syncStatuses.map(syncStatusName).join(" or ")}`
    }.`;
    if (ctx.settings.style === "anyscale") {
      // Anyscale's list: one titled table per resource, a blank line between them.
      const withPolicy = all.filter((rp) => rp.policy !== undefined);
      print(ctx, withPolicy.map((rp) => anyscaleResourcePolicy(ctx, rp.resource, rp.policy!)), () =>
        withPolicy.length === 0 ? none : withPolicy
          .map((rp) => {
            const { type, id } = anyscaleResource(ctx, rp.resource);
            return `${type}: ${id}\n${anyscaleTable(rp.policy!)}`;
          })
          .join("\n\n"),
      );
      return;
    }
    print(ctx, { resourcePolicies: all.map((rp) => toJson(ResourcePolicySchema, rp)) }, () => {
      if (all.length === 0) return none;
      const policies = all.map((rp) => rp.policy!).filter(Boolean);
      const withCondition = hasConditions(policies);
      const headers = ["Resource", "Role", "Principal", ...(withCondition ? ["Condition"] : []), "Status"];
      return table(headers, all.flatMap((rp) => (rp.policy ? policyRows(rp.policy, withCondition, [rp.resource]) : [])));
    });
  },
};

export const lookup: Command = {
  help: {
    name: "lookup",
    summary: "show the effective policy of a resource: its own bindings and its ancestors'",
    usage: [`${RESOURCE_USAGE}`],
  },
  options: { ...RESOURCE_OPTIONS },
  async run(ctx) {
    const resource = await resolveResource(ctx);
    const effective = await ctx.api.policies.lookupEffectivePolicy({ resource, options: { requestedPolicyVersion: 3 } });
    print(ctx, toJson(EffectivePolicySchema, effective), () => {
      if (effective.bindings.length === 0) return `No policy applies to ${resource}.`;
      const status = new Map(effective.policies.map((p) => [p.resource, syncStatusName(p.policy?.syncStatus ?? 0)]));
      const withCondition = effective.bindings.some((b) => b.binding?.condition !== undefined);
      const headers = ["Role", "Principal", ...(withCondition ? ["Condition"] : []), "From", "Status"];
      const rows = effective.bindings.flatMap(({ binding, resource: from }) =>
        (binding?.members ?? []).map((m) => [
          binding!.role,
          m,
          ...(withCondition ? [conditionCell(binding!.condition)] : []),
          from,
          status.get(from) ?? "-",
        ]),
      );
      return table(headers, rows);
    });
  },
};
