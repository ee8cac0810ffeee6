// policy add-binding | remove-binding: change one binding with a read-modify-write that retries when another
// writer got in between (the SDK's modifyPolicy).
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { BindingSchema, ExprSchema, type Binding, type Expr } from "../../../gen/policy/v1/policy_pb.js";
import { modifyPolicy } from "../../client/index.js";
import { flag, list, required, RESOURCE_OPTIONS, str, type OptionSpecs, type Values } from "../args.js";
import type { Context } from "../context.js";
import { CliError, UsageError } from "../command-errors.js";
import { printPolicy } from "../output.js";
import { normaliseMember, normaliseRole } from "../policy-file.js";
import { resolveResource } from "../resource-ref.js";
import type { Command } from "./command.js";

const BINDING_OPTIONS: OptionSpecs = {
  ...RESOURCE_OPTIONS,
  role: { type: "string", value: "ROLE", help: "the role, e.g. collaborator or roles/collaborator" },
  member: {
    type: "string",
    multiple: true,
    value: "MEMBER",
    help: "user:EMAIL, group:ID, serviceAccount:EMAIL, domain:DOMAIN, allUsers...; a bare email is a user, a bare id a group",
  },
  condition: { type: "string", value: "CEL", help: 'a condition, e.g. \'request.time < timestamp("2027-01-01T00:00:00Z")\'' },
  "condition-title": { type: "string", value: "TEXT", help: "the condition's title" },
  "condition-description": { type: "string", value: "TEXT", help: "the condition's description" },
};

function conditionOf(values: Values, command: string): Expr | undefined {
  const expression = str(values, "condition");
  const title = str(values, "condition-title");
  const description = str(values, "condition-description");
  if (expression === undefined) {
    if (title !== undefined || description !== undefined) {
      throw new UsageError("--condition-title and --condition-description need --condition", command);
    }
    return undefined;
  }
  return create(ExprSchema, { expression: expression.trim(), title: title ?? "", description: description ?? "" });
}

function sameCondition(a: Expr | undefined, b: Expr | undefined): boolean {
  if (!a || !b) return a === b;
  return a.expression.trim() === b.expression.trim() && a.title === b.title && a.description === b.description;
}

/** Emails compare case-insensitively (the server lower-cases them); ids exactly. */
function memberKey(member: string): string {
  return member.includes("@") ? member.toLowerCase() : member;
}

function membersOf(ctx: Context): string[] {
  const members = list(ctx.values, "member").map(normaliseMember);
  if (members.length === 0) throw new UsageError("--member is required (repeat it for several)", ctx.command);
  return members;
}

export const addBinding: Command = {
  help: {
    name: "add-binding",
    summary: "grant a role to members on a resource",
    usage: [
      "--resource-type TYPE [--resource-id ID] --role ROLE --member MEMBER... [--condition CEL [--condition-title TEXT]]",
    ],
    details: [
      "e.g. policy add-binding --resource-type cloud --resource-id cld_abc123 --role collaborator --member ug_abc123",
      "Reads the policy, adds the members and writes it back with its etag; if another writer changed the policy",
      "in between, it starts over (up to 10 times, with backoff).",
    ],
  },
  options: BINDING_OPTIONS,
  async run(ctx) {
    const role = normaliseRole(required(ctx.values, "role", ctx.command));
    const members = membersOf(ctx);
    const condition = conditionOf(ctx.values, ctx.command);
    const resource = await resolveResource(ctx);
    const stored = await modifyPolicy(ctx.api, resource, (policy) => {
      const binding = policy.bindings.find((b) => b.role === role && sameCondition(b.condition, condition));
      if (binding) {
        const have = new Set(binding.members.map(memberKey));
        binding.members.push(...members.filter((m) => !have.has(memberKey(m))));
      } else {
        policy.bindings.push(create(BindingSchema, { role, members, condition }));
      }
      return policy;
    });
    printPolicy(ctx, resource, stored);
  },
};

export const removeBinding: Command = {
  help: {
    name: "remove-binding",
    summary: "take members out of a role's binding on a resource",
    usage: ["--resource-type TYPE [--resource-id ID] --role ROLE --member MEMBER... [--condition CEL | --all]"],
    details: [
      "Without --condition, the binding without condition; with it, the binding with that condition;",
      "with --all, every binding of the role. A member that is not there is an error, and nothing is written.",
    ],
  },
  options: {
    ...BINDING_OPTIONS,
    all: { type: "boolean", help: "remove the members from every binding of the role, whatever its condition" },
  },
  async run(ctx) {
    const role = normaliseRole(required(ctx.values, "role", ctx.command));
    const members = membersOf(ctx);
    const all = flag(ctx.values, "all");
    const expression = str(ctx.values, "condition")?.trim();
    if (all && expression !== undefined) throw new UsageError("give --condition or --all, not both", ctx.command);
    const title = str(ctx.values, "condition-title");
    const description = str(ctx.values, "condition-description");
    if (expression === undefined && (title !== undefined || description !== undefined)) {
      throw new UsageError("--condition-title and --condition-description need --condition", ctx.command);
    }
    const matches = (b: Binding) =>
      b.role === role &&
      (all ||
        (expression === undefined
          ? b.condition === undefined
          : b.condition !== undefined &&
            b.condition.expression.trim() === expression &&
            (title === undefined || b.condition.title === title) &&
            (description === undefined || b.condition.description === description)));
    const resource = await resolveResource(ctx);
    const stored = await modifyPolicy(ctx.api, resource, (policy) => {
      const wanted = new Set(members.map(memberKey));
      const found = new Set<string>();
      for (const binding of policy.bindings.filter(matches)) {
        binding.members = binding.members.filter((m) => {
          const hit = wanted.has(memberKey(m));
          if (hit) found.add(memberKey(m));
          return !hit;
        });
      }
      const missing = members.filter((m) => !found.has(memberKey(m)));
      if (missing.length > 0) {
        const which = all ? "" : expression === undefined ? " without condition" : ` with condition ${expression}`;
        throw new CliError(
          `no binding of ${role}${which} on ${resource} has ${missing.join(", ")}`,
          "see the bindings with `policy get`; a conditional binding needs --condition (or --all)",
          Code.NotFound,
        );
      }
      policy.bindings = policy.bindings.filter((b) => b.members.length > 0);
      return policy;
    });
    printPolicy(ctx, resource, stored);
  },
};
