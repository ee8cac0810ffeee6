// policy export | apply: a subtree as a directory of YAML files (docs/policy-as-code.md), and the plan/apply that makes
// the server match such a directory. Both are the SDK's (client/estate.ts, subtree-state.ts, plan-apply.ts).
import { Code } from "@connectrpc/connect";
import { EstateFileError, readEstateDir, writeEstateDir } from "../../client/estate.js";
import { ApplyAborted, applyPlan, planApply } from "../../client/plan-apply.js";
import { describeTarget, formatPlan, planSummary } from "../../client/plan-format.js";
import { exportSubtree } from "../../client/subtree-state.js";
import { flag, str } from "../args.js";
import type { Context } from "../context.js";
import { CliError, UsageError } from "../command-errors.js";
import { print } from "../output.js";
import type { Command } from "./command.js";

/** `apply --plan` exits with this when something would change (0 when nothing would), as `terraform plan -detailed-exitcode`. */
export const EXIT_CHANGES = 2;

function directory(ctx: Context): string {
  const [dir] = (ctx.values._ as string[] | undefined) ?? [];
  if (!dir) throw new UsageError("the directory is required", ctx.command);
  return dir;
}

export const exportCommand: Command = {
  help: {
    name: "export",
    summary: "write a subtree (resources, policies, deny policies, custom roles, shared policies) as YAML files",
    usage: ["--subtree NAME DIR"],
    details: [
      "DIR gets estate.yaml, resources/{collection}/{id}.yaml, roles/{collection}/{id}/{role}.yaml and",
      "shared-policies/{id}.yaml; estate files there that the subtree no longer has are removed, other files stay.",
      "No etag or time is written: exporting an unchanged subtree again writes the same bytes, so a change is a",
      "small Git diff. `policy apply DIR` makes a server match the files.",
    ],
  },
  arguments: ["DIR"],
  options: {
    subtree: { type: "string", value: "NAME", help: "the root of the subtree, e.g. organizations/acme" },
  },
  async run(ctx) {
    const subtree = str(ctx.values, "subtree");
    if (!subtree) throw new UsageError("--subtree is required", ctx.command);
    const dir = directory(ctx);
    const estate = await exportSubtree(ctx.api, subtree);
    writeEstateDir(dir, estate);
    ctx.io.stderr(
      `Exported ${subtree} to ${dir}: ${estate.resources.length} resource(s), ${estate.roles.length} custom role(s), ` +
        `${estate.sharedPolicies.length} shared polic${estate.sharedPolicies.length === 1 ? "y" : "ies"}.`,
    );
  },
};

export const apply: Command = {
  help: {
    name: "apply",
    summary: "make the server match a directory that `policy export` wrote (or --plan: show what would change)",
    usage: ["DIR --plan [--prune]", "DIR [--prune]"],
    details: [
      "--plan prints the changes (create, update with a per-binding diff, move, delete) and exits 0 when there are",
      "none, 2 when there are some: run it in review. Without --plan the changes are made, each conditional on the",
      "etag the plan read: an edit made meanwhile stops the apply (exit 1) instead of being overwritten.",
      "Deletions (of what the files do not have) are planned only with --prune. Applying again is a no-op.",
      "-o json prints the plan as JSON (each change's kind and target, the counts) for scripts.",
    ],
  },
  arguments: ["DIR"],
  options: {
    plan: { type: "boolean", help: "only print what would change; exit 2 when something would" },
    prune: { type: "boolean", help: "also delete the resources, shared policies, bindings and roles the files do not have" },
  },
  async run(ctx) {
    const dir = directory(ctx);
    let estate;
    try {
      estate = readEstateDir(dir);
    } catch (e) {
      if (e instanceof EstateFileError) throw new CliError(`${dir}/${e.message}`, "fix the file, or export again with `policy export --subtree NAME DIR`");
      throw e;
    }
    const plan = await planApply(ctx.api, estate, { prune: flag(ctx.values, "prune") });
    // -o json/yaml: the plan for a script (each change's verb and what it is about); else the review text.
    print(
      ctx,
      {
        subtree: plan.subtree,
        changes: plan.changes.map((c) => ({ kind: c.kind, target: describeTarget(c) })),
        summary: planSummary(plan),
        unmanaged: plan.unmanaged,
      },
      () => formatPlan(plan),
    );
    if (flag(ctx.values, "plan")) return plan.changes.length === 0 ? 0 : EXIT_CHANGES;
    if (plan.changes.length === 0) return 0;
    try {
      const { applied } = await applyPlan(ctx.api, plan);
      const n = planSummary(plan);
      const done = `Applied ${applied} change(s): ${n.create} created, ${n.update} updated, ${n.move} moved, ${n.delete} deleted.`;
      // Standard output stays one document with -o json/yaml.
      if (ctx.settings.output === "json" || ctx.settings.output === "yaml") ctx.io.stderr(done);
      else ctx.io.stdout(done);
    } catch (e) {
      if (e instanceof ApplyAborted) throw new CliError(e.message, "run `policy apply DIR --plan` again to see the current difference", Code.Aborted);
      throw e;
    }
  },
};
