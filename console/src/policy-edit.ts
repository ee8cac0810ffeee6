// The policy editor's model, without the DOM: a policy as rows (one per binding) that the table edits in place, the
// grants that two versions differ by, and re-applying one's own edit on top of a policy someone else changed.
import { create } from "@bufbuild/protobuf";
import { PolicySchema, type Policy } from "../../gen/policy/v1/policy_pb.js";

export interface Condition {
  title: string;
  expression: string;
  description: string;
}

/** One binding as the table shows it; a row without members is dropped when the policy is saved. */
export interface Row {
  role: string;
  condition?: Condition;
  members: string[];
}

/** One member holding one role (under one condition): what an edit adds or removes. */
export interface Grant {
  role: string;
  condition?: Condition;
  member: string;
}

export function rowsOf(policy: Policy): Row[] {
  return policy.bindings.map((b) => ({
    role: b.role,
    condition: b.condition
      ? { title: b.condition.title, expression: b.condition.expression, description: b.condition.description }
      : undefined,
    members: [...b.members],
  }));
}

/**
 * The policy to send for `rows`, and for each of its bindings the row it came from (the server names a problem by the
 * binding's index in the request, the table by its row). A policy with a condition is version 3.
 */
export function policyOf(rows: readonly Row[], etag: Uint8Array): { policy: Policy; rowOfBinding: number[] } {
  const rowOfBinding: number[] = [];
  const bindings = rows.flatMap((row, i) => {
    if (row.members.length === 0) return [];
    rowOfBinding.push(i);
    return [{ role: row.role, members: [...row.members], condition: row.condition && { ...row.condition, location: "" } }];
  });
  const version = bindings.some((b) => b.condition) ? 3 : 1;
  return { policy: create(PolicySchema, { version, etag, bindings }), rowOfBinding };
}

const conditionKey = (c: Condition | undefined) => (c ? JSON.stringify([c.expression, c.title, c.description]) : "");
const bindingKey = (role: string, c: Condition | undefined) => JSON.stringify([role, conditionKey(c)]);
const grantKey = (g: Grant) => JSON.stringify([bindingKey(g.role, g.condition), g.member]);

export function grantsOf(rows: readonly Row[]): Grant[] {
  return rows.flatMap((r) => r.members.map((member) => ({ role: r.role, condition: r.condition, member })));
}

/** The grants `after` has that `before` has not, and the reverse. */
export function diff(before: readonly Row[], after: readonly Row[]): { added: Grant[]; removed: Grant[] } {
  const b = new Map(grantsOf(before).map((g) => [grantKey(g), g]));
  const a = new Map(grantsOf(after).map((g) => [grantKey(g), g]));
  return {
    added: [...a].filter(([k]) => !b.has(k)).map(([, g]) => g),
    removed: [...b].filter(([k]) => !a.has(k)).map(([, g]) => g),
  };
}

export function isEmptyChange(change: { added: Grant[]; removed: Grant[] }): boolean {
  return change.added.length === 0 && change.removed.length === 0;
}

/**
 * My edit (from `base` to `mine`) applied on top of `theirs`, the policy as someone else left it: their rows in their
 * order, less the grants I removed, plus the grants I added (into the row of the same role and condition, or a new row
 * at the end). A grant we both added or both removed is applied once.
 */
export function rebase(base: readonly Row[], mine: readonly Row[], theirs: readonly Row[]): Row[] {
  const mineChange = diff(base, mine);
  const removed = new Set(mineChange.removed.map(grantKey));
  const rows: Row[] = theirs.map((r) => ({
    ...r,
    members: r.members.filter((member) => !removed.has(grantKey({ role: r.role, condition: r.condition, member }))),
  }));
  for (const g of mineChange.added) {
    let row = rows.find((r) => bindingKey(r.role, r.condition) === bindingKey(g.role, g.condition));
    if (!row) rows.push((row = { role: g.role, condition: g.condition, members: [] }));
    if (!row.members.includes(g.member)) row.members.push(g.member);
  }
  return rows.filter((r) => r.members.length > 0);
}

/** e.g. `user:ada@example.com as roles/owner (if "business hours")` */
export function describeGrant(g: Grant): string {
  const condition = g.condition ? ` (if ${g.condition.title ? `"${g.condition.title}"` : g.condition.expression})` : "";
  return `${g.member} as ${g.role}${condition}`;
}
