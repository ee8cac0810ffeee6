// A resource's policy as a table of role -> members, edited in place and saved with the etag it was read with. When
// someone else wrote the policy meanwhile (ABORTED), the page shows what they changed and offers to re-apply this
// edit on top of their version.
import { Code } from "@connectrpc/connect";
import { useEffect, useState } from "preact/hooks";
import { canonicalMember } from "../../src/domain/members.js";
import { api } from "./api.js";
import { describeGrant, diff, isEmptyChange, policyOf, rebase, rowsOf, type Grant, type Row } from "./policy-edit.js";
import { bindingField, isCode, problemOf, type Problem } from "./problems.js";
import { grantableRoles } from "./grantable-roles.js";
import type { RoleInfo, Schema } from "./schema.js";
import { usePermissions, useUnsaved } from "./session.js";
import { SharedBoundHere } from "./shared.js";
import { base64, ErrorBox, TextField, useId, Wide } from "./ui.js";

interface Loaded {
  rows: Row[];
  etag: Uint8Array;
}

interface Conflict {
  theirs: Loaded;
  theirChange: { added: Grant[]; removed: Grant[] };
  myChange: { added: Grant[]; removed: Grant[] };
}

/** Problems of one row, by the rest of the field path (`.role`, `.members[1]`, `.condition.expression`). */
type RowProblems = Map<string, string>;

export function PolicyEditor({ schema, resource }: { schema: Schema; resource: string }) {
  const [base, setBase] = useState<Loaded>();
  const [rows, setRows] = useState<Row[]>([]);
  const [problem, setProblem] = useState<Problem>();
  const [rowProblems, setRowProblems] = useState<Map<number, RowProblems>>(new Map());
  const [conflict, setConflict] = useState<Conflict>();
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);
  const [roles, setRoles] = useState<RoleInfo[]>(() => schema.rolesOf(resource));
  const [view, setView] = useState<"role" | "principal">("role");
  const collection = resource.slice(0, resource.indexOf("/"));
  const held = usePermissions(schema, resource, [`${collection}.setPolicy`]);
  const mayEdit = held?.has(`${collection}.setPolicy`) ?? false;
  const pending = base ? diff(base.rows, rows) : undefined;
  useUnsaved(
    `policy:${resource}`,
    pending && !isEmptyChange(pending) ? `the policy of ${resource}: ${pending.added.length} added, ${pending.removed.length} removed` : undefined,
  );

  async function load(): Promise<Loaded> {
    const policy = await api.policies.getPolicy({ resource, options: { requestedPolicyVersion: 3 } });
    return { rows: rowsOf(policy), etag: policy.etag };
  }

  useEffect(() => {
    setBase(undefined);
    setConflict(undefined);
    setProblem(undefined);
    setStatus("");
    setRoles(schema.rolesOf(resource));
    // Another resource opened before the answer came: not this editor's roles any more.
    let current = true;
    void grantableRoles(schema, resource).then((roles) => current && setRoles(roles));
    load().then(
      (l) => {
        setBase(l);
        setRows(structuredClone(l.rows));
      },
      (e) => setProblem(problemOf(e)),
    );
    return () => {
      current = false;
    };
  }, [resource]);

  if (!base) return problem ? <ErrorBox problem={problem} /> : <p class="muted">loading…</p>;
  const change = diff(base.rows, rows);
  const dirty = !isEmptyChange(change) || rows.some((r) => r.members.length === 0);

  const update = (i: number, f: (row: Row) => Row) => setRows(rows.map((r, j) => (j === i ? f(r) : r)));

  async function save() {
    setBusy(true);
    setProblem(undefined);
    setRowProblems(new Map());
    setStatus("");
    const { policy, rowOfBinding } = policyOf(rows, base!.etag);
    try {
      const saved = await api.policies.setPolicy({ resource, policy });
      const loaded = { rows: rowsOf(saved), etag: saved.etag };
      setBase(loaded);
      setRows(structuredClone(loaded.rows));
      setConflict(undefined);
      setStatus("Saved.");
    } catch (e) {
      if (isCode(e, Code.Aborted)) {
        const theirs = await load();
        setConflict({ theirs, theirChange: diff(base!.rows, theirs.rows), myChange: change });
      } else {
        const p = problemOf(e);
        setProblem(p);
        // Map each binding index the server names back to the table's row.
        const byRow = new Map<number, RowProblems>();
        for (const f of p.fields) {
          const at = bindingField(f.field);
          if (!at) continue;
          const row = rowOfBinding[at.binding] ?? at.binding;
          if (!byRow.has(row)) byRow.set(row, new Map());
          byRow.get(row)!.set(at.rest, f.description);
        }
        setRowProblems(byRow);
      }
    } finally {
      setBusy(false);
    }
  }

  function reapply() {
    const { theirs } = conflict!;
    setRows(rebase(base!.rows, rows, theirs.rows));
    setBase(theirs);
    setConflict(undefined);
    setStatus("Your changes are applied on top of the current policy: review them and save.");
  }

  function takeTheirs() {
    const { theirs } = conflict!;
    setBase(theirs);
    setRows(structuredClone(theirs.rows));
    setConflict(undefined);
    setStatus("Your changes were discarded; this is the current policy.");
  }

  return (
    <section aria-label="Policy">
      <p class="muted">
        Roles granted here apply to {resource} and everything under it. Etag <code>{base64(base.etag)}</code>
      </p>
      {held && !mayEdit && (
        <p class="notice" role="note">
          Read-only: you do not hold <code>{collection}.setPolicy</code> here, so you cannot change this policy.
        </p>
      )}
      <div class="view-switch" role="group" aria-label="Show the policy">
        <button type="button" aria-pressed={view === "role"} onClick={() => setView("role")}>
          By role
        </button>
        <button type="button" aria-pressed={view === "principal"} onClick={() => setView("principal")}>
          By principal
        </button>
      </div>
      {conflict && <ConflictPanel conflict={conflict} onReapply={reapply} onDiscard={takeTheirs} />}
      {view === "principal" && <ByPrincipal rows={rows} resource={resource} />}
      {view === "role" && (
      <fieldset class="plain" disabled={!mayEdit}>
      <Wide>
      <table class="policy">
        <caption class="sr-only">Role bindings of {resource}</caption>
        <thead>
          <tr>
            <th scope="col">Role</th>
            <th scope="col">Condition</th>
            <th scope="col">Members</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <BindingRow
              key={i}
              index={i}
              row={row}
              roles={roles}
              problems={rowProblems.get(i)}
              onChange={(f) => update(i, f)}
              onRemove={() => setRows(rows.filter((_, j) => j !== i))}
            />
          ))}
          {rows.length === 0 && (
            <tr>
              <td colSpan={4} class="muted">
                No bindings: nobody holds a role on this resource itself (ancestors' bindings still apply; see Effective policy).
              </td>
            </tr>
          )}
        </tbody>
      </table>
      </Wide>
      </fieldset>
      )}
      <div class="actions">
        <button type="button" onClick={() => (setView("role"), setRows([...rows, { role: roles[0]?.name ?? "", members: [] }]))} disabled={roles.length === 0 || !mayEdit}>
          Add role binding
        </button>
        <span class="spacer" />
        <span class="muted" aria-live="polite">
          {!dirty
            ? ""
            : isEmptyChange(change)
              ? "Unsaved: a binding without members (add one, or it is left out)"
              : `Unsaved: ${change.added.length} added, ${change.removed.length} removed`}
        </span>
        <button type="button" onClick={() => (setRows(structuredClone(base.rows)), setProblem(undefined), setRowProblems(new Map()))} disabled={!dirty || busy}>
          Discard changes
        </button>
        <button type="button" class="primary" onClick={() => void save()} disabled={!dirty || busy || conflict !== undefined || !mayEdit}>
          Save policy
        </button>
      </div>
      <p role="status" class="muted">
        {status}
      </p>
      <ErrorBox problem={problem} fieldLabel={(f) => f.replace(/^policy\.bindings\[(\d+)\]/, (_, n: string) => `binding ${Number(n) + 1}`)} />
      <SharedBoundHere target={resource} />
    </section>
  );
}

/** The same bindings turned around: each principal with the roles it holds here (and under which condition). */
function ByPrincipal({ rows, resource }: { rows: readonly Row[]; resource: string }) {
  const byMember = new Map<string, Row[]>();
  for (const row of rows) for (const m of row.members) byMember.set(m, [...(byMember.get(m) ?? []), row]);
  const members = [...byMember.keys()].sort();
  return (
    <Wide>
      <table class="by-principal">
        <caption class="sr-only">Principals of the policy of {resource} and their roles</caption>
        <thead>
          <tr>
            <th scope="col">Principal</th>
            <th scope="col">Roles here</th>
          </tr>
        </thead>
        <tbody>
          {members.map((m) => (
            <tr key={m} data-member={m}>
              <td>
                <code>{m}</code>
              </td>
              <td>
                {byMember.get(m)!.map((r, i) => (
                  <span class="chip" key={i}>
                    {r.role}
                    {r.condition ? ` if ${r.condition.title || r.condition.expression}` : ""}
                  </span>
                ))}
              </td>
            </tr>
          ))}
          {members.length === 0 && (
            <tr>
              <td colSpan={2} class="muted">
                No principal holds a role on this resource itself.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </Wide>
  );
}

function BindingRow(p: {
  index: number;
  row: Row;
  roles: { name: string; title: string }[];
  problems?: RowProblems;
  onChange: (f: (row: Row) => Row) => void;
  onRemove: () => void;
}) {
  const { row, problems } = p;
  const [member, setMember] = useState("");
  const roleId = useId("role");
  const checked = member.trim() === "" ? undefined : canonicalMember(member.trim());
  const memberError = checked && "error" in checked ? checked.error : undefined;
  const duplicate = checked && "member" in checked && row.members.includes(checked.member) ? `${checked.member} already holds this role` : undefined;
  const grantable = p.roles.some((r) => r.name === row.role);

  function addMember() {
    if (!checked || "error" in checked || duplicate) return;
    p.onChange((r) => ({ ...r, members: [...r.members, checked.member] }));
    setMember("");
  }

  return (
    <tr data-role={row.role} class={problems ? "has-problem" : undefined}>
      <td>
        <label for={roleId} class="sr-only">
          Role of binding {p.index + 1}
        </label>
        <select
          id={roleId}
          value={row.role}
          aria-invalid={problems?.has(".role") ? "true" : undefined}
          onChange={(e) => p.onChange((r) => ({ ...r, role: (e.currentTarget as HTMLSelectElement).value }))}
        >
          {!grantable && <option value={row.role}>{row.role} (not grantable here)</option>}
          {p.roles.map((r) => (
            <option key={r.name} value={r.name}>
              {r.name} — {r.title}
            </option>
          ))}
        </select>
        {problems?.get(".role") && <small class="field-error">{problems.get(".role")}</small>}
      </td>
      <td>
        {row.condition ? (
          <div class="condition">
            <TextField
              label="Condition title"
              value={row.condition.title}
              onInput={(v) => p.onChange((r) => ({ ...r, condition: { ...r.condition!, title: v } }))}
              error={problems?.get(".condition.title")}
            />
            <TextField
              label="CEL expression"
              value={row.condition.expression}
              onInput={(v) => p.onChange((r) => ({ ...r, condition: { ...r.condition!, expression: v } }))}
              error={problems?.get(".condition.expression") ?? problems?.get(".condition")}
              hint="e.g. request.time < timestamp('2030-01-01T00:00:00Z') or resource.name.startsWith('projects/')"
              multiline
            />
            <button type="button" onClick={() => p.onChange((r) => ({ ...r, condition: undefined }))}>
              Remove condition
            </button>
          </div>
        ) : (
          <button type="button" onClick={() => p.onChange((r) => ({ ...r, condition: { title: "", expression: "", description: "" } }))}>
            Add condition
          </button>
        )}
      </td>
      <td>
        <ul class="members" aria-label={`Members of ${row.role}`}>
          {row.members.map((m, j) => {
            const error = problems?.get(`.members[${j}]`);
            return (
              <li key={m} class={error ? "member invalid" : "member"} aria-invalid={error ? "true" : undefined}>
                <code>{m}</code>
                <button type="button" aria-label={`Remove ${m} from ${row.role}`} onClick={() => p.onChange((r) => ({ ...r, members: r.members.filter((x) => x !== m) }))}>
                  ×
                </button>
                {error && <small class="field-error">{error}</small>}
              </li>
            );
          })}
        </ul>
        <div class="add-member">
          <TextField
            label={`Add member to ${row.role}`}
            value={member}
            onInput={setMember}
            placeholder="user:ada@example.com"
            error={memberError ?? duplicate ?? problems?.get(".members")}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                addMember();
              }
            }}
          />
          <button type="button" onClick={addMember} disabled={!checked || memberError !== undefined || duplicate !== undefined}>
            Add
          </button>
        </div>
      </td>
      <td>
        <button type="button" class="danger" aria-label={`Remove binding ${p.index + 1} (${row.role})`} onClick={p.onRemove}>
          Remove
        </button>
      </td>
    </tr>
  );
}

function ConflictPanel({ conflict, onReapply, onDiscard }: { conflict: Conflict; onReapply: () => void; onDiscard: () => void }) {
  const list = (change: { added: Grant[]; removed: Grant[] }) => (
    <ul>
      {change.added.map((g) => (
        <li key={`+${describeGrant(g)}`} class="added">
          added {describeGrant(g)}
        </li>
      ))}
      {change.removed.map((g) => (
        <li key={`-${describeGrant(g)}`} class="removed">
          removed {describeGrant(g)}
        </li>
      ))}
      {isEmptyChange(change) && <li class="muted">nothing (only the etag or order changed)</li>}
    </ul>
  );
  return (
    <div class="conflict" role="alert" aria-labelledby="conflict-title">
      <h2 id="conflict-title">Someone else changed this policy while you were editing</h2>
      <div class="columns">
        <div>
          <h3>Their changes (already saved)</h3>
          {list(conflict.theirChange)}
        </div>
        <div>
          <h3>Your changes (not saved)</h3>
          {list(conflict.myChange)}
        </div>
      </div>
      <div class="actions">
        <button type="button" class="primary" onClick={onReapply}>
          Re-apply my changes on top
        </button>
        <button type="button" onClick={onDiscard}>
          Discard mine, show theirs
        </button>
      </div>
    </div>
  );
}
