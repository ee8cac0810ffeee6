// policy who-can / what-can: the reverse lookups (AccessService.LookupMembers and LookupResources), every page.
import { fromJson, toJson } from "@bufbuild/protobuf";
import {
  LookupMembersRequestSchema,
  LookupResourcesRequestSchema,
  MemberGrantSchema,
  ResourceAccessSchema,
  type MemberGrant,
  type ResourceAccess,
} from "../../../gen/policy/v1/access_service_pb.js";
import { flag, list, RESOURCE_OPTIONS, required, str, type OptionSpecs } from "../args.js";
import { UsageError } from "../command-errors.js";
import { conditionCell, print, table } from "../output.js";
import { allPages } from "../pages.js";
import { normaliseMember } from "../policy-file.js";
import { resolveResource, resourceType } from "../resource-ref.js";
import { attributes, stateName } from "./check.js";
import type { Command } from "./command.js";

const CONDITION_OPTIONS: OptionSpecs = {
  attribute: {
    type: "string",
    multiple: true,
    value: "K=V",
    help: "a request attribute for conditions (request.attributes); conditions are then evaluated",
  },
  "evaluate-conditions": {
    type: "boolean",
    help: "evaluate conditions (against the attributes, the time and the resource) instead of listing them unevaluated",
  },
};

export const whoCan: Command = {
  help: {
    name: "who-can",
    summary: "list the members holding a permission on a resource, directly or through an ancestor",
    usage: ["--resource-type TYPE [--resource-id ID] --permission PERMISSION [--attribute K=V...] [--evaluate-conditions]"],
    details: [
      "e.g. policy who-can --resource-type cloud --resource-id cld_abc123 --permission clouds.update",
      "Members are shown as bound: groups and domains are not expanded. A conditional grant is shown with its",
      "condition; it is evaluated with --attribute or --evaluate-conditions, and left out when false.",
      "Needs {collection}.getPolicy on the resource; bindings on ancestors you may not read are left out (a note says so).",
    ],
  },
  options: {
    ...RESOURCE_OPTIONS,
    permission: { type: "string", value: "PERMISSION", help: "a permission, e.g. clouds.update" },
    ...CONDITION_OPTIONS,
  },
  async run(ctx) {
    const permission = required(ctx.values, "permission", ctx.command);
    const resource = await resolveResource(ctx);
    let partial = false;
    const grants = await allPages<MemberGrant>(async (pageToken) => {
      const page = await ctx.api.access.lookupMembers(
        fromJson(LookupMembersRequestSchema, {
          resource,
          permission,
          attributes: attributes(ctx),
          evaluateConditions: flag(ctx.values, "evaluate-conditions"),
          pageSize: 1000,
          pageToken,
        }),
      );
      partial ||= page.partial;
      return [page.grants, page.nextPageToken];
    });
    print(ctx, { grants: grants.map((g) => toJson(MemberGrantSchema, g)), partial }, () => {
      const note = partial
        ? "\n\nPartial: bindings and deny rules you may not read (on ancestors, in shared policies) are not shown; they still apply."
        : "";
      if (grants.length === 0) return `Nobody holds ${permission} on ${resource}.${note}`;
      const withCondition = grants.some((g) => g.conditional);
      const headers = ["Member", "Role", "From", ...(withCondition ? ["Condition"] : []), "Access"];
      const rows = grants.map((g) => [g.member, g.role, g.resource, ...(withCondition ? [conditionCell(g.condition)] : []), stateName(g.state)]);
      return table(headers, rows) + note;
    });
  },
};

export const whatCan: Command = {
  help: {
    name: "what-can",
    summary: "list the resources of a type on which principals hold a permission, through inheritance",
    usage: ["--type TYPE --principal PRINCIPAL... --permission PERMISSION [--ancestor NAME] [--attribute K=V...] [--evaluate-conditions]"],
    details: [
      "e.g. policy what-can --type project --principal user:ada@example.com --principal group:eng --permission projects.get",
      "A grant on an organization or cloud covers every resource beneath it. The principals are a user (or service",
      "account) and the groups it belongs to, as for `policy check`. Only resources whose policies you may read are",
      "listed; --ancestor NAME limits the answer to its subtree (you need {collection}.getPolicy on it).",
    ],
  },
  options: {
    type: { type: "string", value: "TYPE", help: "the type of the resources listed, one of the resource schema's" },
    principal: {
      type: "string",
      multiple: true,
      value: "PRINCIPAL",
      help: "the subject: user:EMAIL and the group:IDs it belongs to",
    },
    permission: { type: "string", value: "PERMISSION", help: "a permission, e.g. projects.get" },
    ancestor: { type: "string", value: "NAME", help: "only resources beneath this one, e.g. organizations/acme" },
    ...CONDITION_OPTIONS,
  },
  async run(ctx) {
    const type = resourceType(ctx, required(ctx.values, "type", ctx.command));
    const permission = required(ctx.values, "permission", ctx.command);
    const ancestor = str(ctx.values, "ancestor") ?? "";
    if (ancestor !== "" && !ancestor.includes("/")) {
      throw new UsageError(`--ancestor "${ancestor}" must be a full name such as organizations/acme`, ctx.command);
    }
    const resources = await allPages<ResourceAccess>(async (pageToken) => {
      const page = await ctx.api.access.lookupResources(
        fromJson(LookupResourcesRequestSchema, {
          principals: list(ctx.values, "principal").map(normaliseMember),
          permission,
          resourceType: type.name,
          ancestor,
          attributes: attributes(ctx),
          evaluateConditions: flag(ctx.values, "evaluate-conditions"),
          pageSize: 1000,
          pageToken,
        }),
      );
      return [page.resources, page.nextPageToken];
    });
    print(ctx, { resources: resources.map((r) => toJson(ResourceAccessSchema, r)) }, () => {
      if (resources.length === 0) return `No ${type.name}${ancestor ? ` beneath ${ancestor}` : ""} grants ${permission} to them.`;
      return table(["Resource", "Access"], resources.map((r) => [r.resource, stateName(r.state)]));
    });
  },
};
