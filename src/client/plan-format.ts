// A plan (plan-apply.ts) as people and scripts read it: one line per change with per-binding member diffs, and the
// counts by verb (create, update, move, delete).
import type { Binding } from "../../gen/policy/v1/policy_pb.js";
import { bindingKey, sameDenyRules } from "./estate.js";
import type { Plan, PlannedChange } from "./plan-apply.js";

/** `+ create`, `~ update`, `> move`, `- delete`: what a plan counts, by verb. */
export function planSummary(plan: Plan): { create: number; update: number; move: number; delete: number } {
  const counts = { create: 0, update: 0, move: 0, delete: 0 };
  for (const c of plan.changes) counts[verbOf(c)]++;
  return counts;
}

function verbOf(c: PlannedChange): "create" | "update" | "move" | "delete" {
  switch (c.kind) {
    case "createResource":
    case "createRole":
    case "createSharedPolicy":
    case "bind":
      return "create";
    case "updateResource":
      return c.from.parent !== c.to.parent ? "move" : "update";
    case "unbind":
    case "deleteResource":
    case "deleteSharedPolicy":
    case "deleteRole":
      return "delete";
    default:
      return "update";
  }
}

/** What a change is about, in a few words. */
export function describeTarget(c: PlannedChange): string {
  switch (c.kind) {
    case "createResource":
      return `resource ${c.resource.name}`;
    case "updateResource":
    case "deleteResource":
      return `resource ${c.name}`;
    case "setPolicy":
      return `policy of ${c.resource}`;
    case "setDenyPolicy":
      return `deny policy of ${c.resource}`;
    case "createRole":
    case "updateRole":
      return `custom role ${c.role.name}`;
    case "deleteRole":
      return `custom role ${c.name}`;
    case "createSharedPolicy":
    case "updateSharedPolicy":
      return `shared policy ${c.sharedPolicy.name}`;
    case "deleteSharedPolicy":
      return `shared policy ${c.name}`;
    case "bind":
    case "unbind":
      return `binding of ${c.sharedPolicy} to ${c.target}`;
  }
}

/** The plan as a person reads it in review: one line per change, binding diffs indented, a count at the end. */
export function formatPlan(plan: Plan): string {
  const lines: string[] = [];
  for (const c of plan.changes) {
    const sign = { create: "+", update: "~", move: ">", delete: "-" }[verbOf(c)];
    switch (c.kind) {
      case "createResource":
        lines.push(`+ create resource ${c.resource.name}${c.resource.parent ? ` (parent ${c.resource.parent})` : ""}`);
        break;
      case "updateResource":
        if (c.from.parent !== c.to.parent) lines.push(`> move resource ${c.name}: ${c.from.parent || "(root)"} -> ${c.to.parent || "(root)"}`);
        if (c.from.displayName !== c.to.displayName) {
          lines.push(`~ update resource ${c.name}: display name ${JSON.stringify(c.from.displayName)} -> ${JSON.stringify(c.to.displayName)}`);
        }
        break;
      case "setPolicy":
        lines.push(`${c.before ? (c.after ? "~ update" : "~ remove") : "+ set"} policy of ${c.resource}`);
        lines.push(...bindingDiff(c.before?.bindings ?? [], c.after?.bindings ?? []));
        if (c.after && c.before && c.after.auditConfigs.length + c.before.auditConfigs.length > 0) {
          lines.push("    audit configs as in the file");
        }
        break;
      case "setDenyPolicy":
        lines.push(`~ ${c.after.length === 0 ? "remove" : "set"} deny policy of ${c.resource}: ${c.before.length} -> ${c.after.length} rule(s)`);
        break;
      case "createRole":
        lines.push(`+ create custom role ${c.role.name} (${c.role.includedPermissions.length} permission(s))`);
        break;
      case "updateRole":
        lines.push(`~ ${c.undelete ? "undelete and update" : "update"} custom role ${c.role.name}`);
        break;
      case "createSharedPolicy":
        lines.push(`+ create shared policy ${c.sharedPolicy.name} (parent ${c.sharedPolicy.parent})`);
        lines.push(...bindingDiff([], c.sharedPolicy.bindings));
        break;
      case "updateSharedPolicy":
        lines.push(`~ update shared policy ${c.sharedPolicy.name}`);
        lines.push(...bindingDiff(c.before.bindings, c.sharedPolicy.bindings));
        if (!sameDenyRules(c.before.denyRules, c.sharedPolicy.denyRules)) {
          lines.push(`    deny rules: ${c.before.denyRules.length} -> ${c.sharedPolicy.denyRules.length}`);
        }
        break;
      default:
        lines.push(`${sign} ${verbOf(c)} ${describeTarget(c)}`);
    }
  }
  const n = planSummary(plan);
  if (plan.changes.length === 0) lines.push(`No changes: ${plan.subtree} matches the files.`);
  else lines.push(`Plan: ${n.create} to create, ${n.update} to update, ${n.move} to move, ${n.delete} to delete.`);
  if (plan.unmanaged.length > 0) {
    lines.push(`${plan.unmanaged.length} object(s) on the server are not in the files and stay (--prune deletes them):`);
    lines.push(...plan.unmanaged.slice(0, 20).map((u) => `    ${u}`));
    if (plan.unmanaged.length > 20) lines.push(`    ... and ${plan.unmanaged.length - 20} more`);
  }
  return lines.join("\n");
}

/** Per binding (role and condition): members added (+) and removed (-). */
export function bindingDiff(before: readonly Binding[], after: readonly Binding[]): string[] {
  const label = (b: Binding) => (b.condition ? `${b.role} if ${b.condition.title || b.condition.expression}` : b.role);
  const was = new Map(before.map((b) => [bindingKey(b), b]));
  const now = new Map(after.map((b) => [bindingKey(b), b]));
  const lines: string[] = [];
  for (const key of [...new Set([...was.keys(), ...now.keys()])].sort()) {
    const old = new Set(was.get(key)?.members ?? []);
    const neu = new Set(now.get(key)?.members ?? []);
    const added = [...neu].filter((m) => !old.has(m));
    const removed = [...old].filter((m) => !neu.has(m));
    if (added.length + removed.length === 0) continue;
    const b = (now.get(key) ?? was.get(key))!;
    lines.push(`    ${label(b)}: ${[...added.map((m) => `+${m}`), ...removed.map((m) => `-${m}`)].join(" ")}`);
  }
  return lines;
}
