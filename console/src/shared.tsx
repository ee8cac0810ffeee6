// Shared policies (AIP-2511), through SharedPolicyService (never ResourceService): an organization's list, create and
// delete; one shared policy's bindings and deny rules, edited with its etag; its targets, bound and unbound; and, on
// any resource, the shared policies bound to it with their bindings.
import { useEffect, useState } from "preact/hooks";
import type { SharedPolicy, SharedPolicyBinding } from "../../gen/policy/v1/shared_policy_pb.js";
import { canonicalMember } from "../../src/domain/members.js";
import { api } from "./api.js";
import { formOf, ruleOf, ruleProblems, RulesEditor, rulesInvalid, type RuleForm } from "./deny.js";
import { Chips, conditionText, ruleSummary } from "./effective.js";
import { fieldProblem, problemOf, type Problem } from "./problems.js";
import type { Schema } from "./schema.js";
import { usePermissions, useUnsaved } from "./session.js";
import { base64, Confirm, ErrorBox, ResourceLink, TextField, Wide, words } from "./ui.js";

export function SharedPolicies({ organization }: { organization: string }) {
  const [list, setList] = useState<SharedPolicy[]>();
  const [problem, setProblem] = useState<Problem>();
  const [version, setVersion] = useState(0);
  const [id, setId] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [createProblem, setCreateProblem] = useState<Problem>();
  const [deleting, setDeleting] = useState<SharedPolicy>();
  const [force, setForce] = useState(false);
  const [status, setStatus] = useState("");

  useEffect(() => {
    setProblem(undefined);
    api.sharedPolicies.listSharedPolicies({ parent: organization, pageSize: 1000 }).then(
      (r) => setList(r.sharedPolicies),
      (e) => setProblem(problemOf(e)),
    );
  }, [organization, version]);

  async function create(e: Event) {
    e.preventDefault();
    setCreateProblem(undefined);
    try {
      const created = await api.sharedPolicies.createSharedPolicy({ parent: organization, sharedPolicyId: id.trim(), sharedPolicy: { displayName: displayName.trim() } });
      location.hash = `#/${created.name}/content`;
    } catch (err) {
      setCreateProblem(problemOf(err));
    }
  }

  async function remove() {
    const sp = deleting!;
    setDeleting(undefined);
    try {
      const res = await api.sharedPolicies.deleteSharedPolicy({ name: sp.name, etag: sp.etag, force });
      setStatus(`Deleted ${sp.name}${res.deletedBindings ? ` and its ${res.deletedBindings} bindings` : ""}`);
      setVersion((v) => v + 1);
    } catch (err) {
      setProblem(problemOf(err));
    }
  }

  return (
    <section aria-label="Shared policies">
      <p class="muted">Shared policies of {organization}: bindings and deny rules that apply wherever they are bound, as if they were each target's own.</p>
      <ErrorBox problem={problem} />
      <p role="status" class="muted">
        {status}
      </p>
      {list && (
        <Wide>
          <table>
            <thead>
              <tr>
                <th scope="col">Shared policy</th>
                <th scope="col">Bindings</th>
                <th scope="col">Deny rules</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((sp) => (
                <tr key={sp.name}>
                  <td>
                    <a href={`#/${sp.name}/content`}>{sp.displayName || sp.name}</a> <span class="muted">{sp.name}</span>
                  </td>
                  <td>{sp.bindings.length}</td>
                  <td>{sp.denyRules.length}</td>
                  <td>
                    <button type="button" class="danger" onClick={() => (setForce(false), setDeleting(sp))}>
                      Delete {sp.name}…
                    </button>
                  </td>
                </tr>
              ))}
              {list.length === 0 && (
                <tr>
                  <td colSpan={4} class="muted">
                    No shared policies.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </Wide>
      )}
      <form class="form" onSubmit={create} aria-label="New shared policy">
        <h2>New shared policy</h2>
        <TextField label="Shared policy id" value={id} onInput={setId} hint="It is named sharedPolicies/{id}" error={fieldProblem(createProblem, "shared_policy_id")} />
        <TextField label="Shared policy display name" value={displayName} onInput={setDisplayName} error={fieldProblem(createProblem, "shared_policy.display_name")} />
        <ErrorBox problem={createProblem} />
        <button type="submit" class="primary" disabled={!id.trim()}>
          Create shared policy
        </button>
      </form>
      {deleting && (
        <Confirm title={`Delete ${deleting.name}?`} confirm="Delete" danger onConfirm={() => void remove()} onCancel={() => setDeleting(undefined)}>
          <p>Its bindings and deny rules stop applying wherever it is bound. This cannot be undone.</p>
          <label class="check">
            <input type="checkbox" checked={force} onChange={(e) => setForce((e.currentTarget as HTMLInputElement).checked)} /> Also unbind it from every
            resource it is bound to
          </label>
        </Confirm>
      )}
    </section>
  );
}

interface BindingForm {
  role: string;
  members: string;
  condition: string;
}

/** A shared policy's content: its bindings and deny rules (edited together, saved with its etag) and its targets. */
export function SharedPolicyContent({ schema, name }: { schema: Schema; name: string }) {
  const [sp, setSp] = useState<SharedPolicy>();
  const [bindings, setBindings] = useState<BindingForm[]>([]);
  const [rules, setRules] = useState<RuleForm[]>([]);
  const [problem, setProblem] = useState<Problem>();
  const [status, setStatus] = useState("");
  const [version, setVersion] = useState(0);
  const held = usePermissions(schema, name, ["sharedPolicies.update"]);
  const mayEdit = held?.has("sharedPolicies.update") ?? false;
  const formsOf = (p: SharedPolicy) => ({
    bindings: p.bindings.map((b) => ({ role: b.role, members: b.members.join(" "), condition: b.condition?.expression ?? "" })),
    rules: p.denyRules.map(formOf),
  });
  const dirty = sp !== undefined && JSON.stringify({ bindings, rules }) !== JSON.stringify(formsOf(sp));
  useUnsaved(`shared:${name}`, dirty ? `the bindings and deny rules of ${name}` : undefined);

  useEffect(() => {
    api.sharedPolicies.getSharedPolicy({ name }).then(
      (p) => {
        setSp(p);
        const f = formsOf(p);
        setBindings(f.bindings);
        setRules(f.rules);
      },
      (e) => setProblem(problemOf(e)),
    );
  }, [name, version]);

  async function save() {
    setProblem(undefined);
    setStatus("");
    try {
      const saved = await api.sharedPolicies.updateSharedPolicy({
        sharedPolicy: {
          name,
          etag: sp!.etag,
          bindings: bindings.map((b) => ({
            role: b.role.trim(),
            members: words(b.members),
            condition: b.condition.trim() ? { expression: b.condition.trim(), title: "", description: "", location: "" } : undefined,
          })),
          denyRules: rules.map(ruleOf),
        },
        updateMask: { paths: ["bindings", "deny_rules"] },
      });
      setSp(saved);
      const f = formsOf(saved);
      setBindings(f.bindings);
      setRules(f.rules);
      setStatus("Shared policy saved.");
    } catch (e) {
      setProblem(problemOf(e));
    }
  }

  if (!sp) return problem ? <ErrorBox problem={problem} /> : <p class="muted">loading…</p>;
  const memberError = (text: string) => words(text).map((m) => canonicalMember(m)).find((r): r is { error: string } => "error" in r)?.error;
  const roles = [...new Set(schema.types.flatMap((t) => t.roles.map((r) => r.name)))];
  const set = (i: number, patch: Partial<BindingForm>) => setBindings(bindings.map((b, j) => (j === i ? { ...b, ...patch } : b)));
  return (
    <section aria-label="Shared policy content">
      <p class="muted">
        {sp.displayName || name} belongs to <ResourceLink name={sp.parent} />. Etag <code>{base64(sp.etag)}</code>
      </p>
      {held && !mayEdit && (
        <p class="notice" role="note">
          Read-only: you do not hold <code>sharedPolicies.update</code> on it.
        </p>
      )}
      <h2>Allow bindings</h2>
      <fieldset class="plain" disabled={!mayEdit}>
        <Wide>
          <table>
            <thead>
              <tr>
                <th scope="col">Role</th>
                <th scope="col">Members</th>
                <th scope="col">Condition</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {bindings.map((b, i) => (
                <tr key={i}>
                  <td>
                    <TextField label={`Role of shared binding ${i + 1}`} value={b.role} onInput={(v) => set(i, { role: v })} list="shared-roles" />
                  </td>
                  <td>
                    <TextField label={`Members of shared binding ${i + 1}`} value={b.members} onInput={(v) => set(i, { members: v })} error={memberError(b.members)} />
                  </td>
                  <td>
                    <TextField label={`Condition of shared binding ${i + 1}`} value={b.condition} onInput={(v) => set(i, { condition: v })} />
                  </td>
                  <td>
                    <button type="button" class="danger" onClick={() => setBindings(bindings.filter((_, j) => j !== i))}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Wide>
        <datalist id="shared-roles">
          {roles.map((r) => (
            <option key={r} value={r} />
          ))}
        </datalist>
        <button type="button" onClick={() => setBindings([...bindings, { role: roles[0] ?? "", members: "", condition: "" }])}>
          Add binding
        </button>
      </fieldset>
      <h2>Deny rules</h2>
      <RulesEditor schema={schema} forms={rules} onChange={setRules} problems={problem ? ruleProblems(problem, "shared_policy.deny_rules") : new Map()} disabled={!mayEdit} />
      <div class="actions">
        <span class="spacer" />
        <button type="button" onClick={() => setVersion((v) => v + 1)} disabled={!dirty}>
          Discard changes
        </button>
        <button
          type="button"
          class="primary"
          onClick={() => void save()}
          disabled={!dirty || !mayEdit || rulesInvalid(schema, rules) || bindings.some((b) => memberError(b.members) || words(b.members).length === 0)}
        >
          Save shared policy
        </button>
      </div>
      <p role="status" class="muted">
        {status}
      </p>
      <ErrorBox problem={problem} />
      <Targets name={name} />
    </section>
  );
}

/** Where a shared policy is bound: list, bind to a new target, unbind. */
function Targets({ name }: { name: string }) {
  const [bound, setBound] = useState<SharedPolicyBinding[]>();
  const [target, setTarget] = useState("");
  const [problem, setProblem] = useState<Problem>();
  const [version, setVersion] = useState(0);
  useEffect(() => {
    api.sharedPolicies.listSharedPolicyBindings({ sharedPolicy: name, pageSize: 1000 }).then(
      (r) => setBound(r.bindings),
      (e) => setProblem(problemOf(e)),
    );
  }, [name, version]);
  const act = (call: Promise<unknown>) =>
    call.then(
      () => (setProblem(undefined), setTarget(""), setVersion((v) => v + 1)),
      (e) => setProblem(problemOf(e)),
    );
  return (
    <section aria-label="Targets">
      <h2>Bound to</h2>
      <ul class="targets">
        {bound?.map((b) => (
          <li key={b.target}>
            <ResourceLink name={b.target} />{" "}
            <button type="button" onClick={() => void act(api.sharedPolicies.deleteSharedPolicyBinding({ sharedPolicy: name, target: b.target }))}>
              Unbind from {b.target}
            </button>
          </li>
        ))}
        {bound?.length === 0 && <li class="muted">Not bound anywhere: it applies nowhere.</li>}
      </ul>
      <form
        class="form inline"
        onSubmit={(e) => {
          e.preventDefault();
          void act(api.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: name, target: target.trim() } }));
        }}
      >
        <TextField label="Bind to resource" value={target} onInput={setTarget} placeholder="clouds/prod" error={problem?.fields.find((f) => f.field.startsWith("binding"))?.description} />
        <button type="submit" disabled={!target.trim()}>
          Bind
        </button>
      </form>
      <ErrorBox problem={problem} />
    </section>
  );
}

/** On a resource's policy page: the shared policies bound to it, with what they grant and deny here. */
export function SharedBoundHere({ target }: { target: string }) {
  const [policies, setPolicies] = useState<SharedPolicy[]>();
  useEffect(() => {
    setPolicies(undefined);
    if (target.startsWith("sharedPolicies/")) return;
    api.sharedPolicies
      .listSharedPolicyBindings({ target, pageSize: 1000 })
      .then((r) => Promise.all(r.bindings.map((b) => api.sharedPolicies.getSharedPolicy({ name: b.sharedPolicy }).catch(() => undefined))))
      .then((all) => setPolicies(all.filter((p): p is SharedPolicy => p !== undefined)), () => setPolicies([]));
  }, [target]);
  if (!policies || policies.length === 0) return null;
  return (
    <section aria-label="Shared policies bound here">
      <h2>Shared policies bound here</h2>
      <p class="muted">Their bindings and deny rules apply to {target} and everything under it, in addition to the policy above.</p>
      {policies.map((sp) => (
        <div key={sp.name} class="shared-card">
          <h3>
            <a href={`#/${sp.name}/content`}>{sp.displayName || sp.name}</a> <span class="muted">{sp.name}</span>
          </h3>
          <ul>
            {sp.bindings.map((b, i) => (
              <li key={i}>
                {b.role}: <Chips items={b.members} />
                {b.condition && <code> if {conditionText(b.condition)}</code>}
              </li>
            ))}
            {sp.denyRules.map((r, i) => (
              <li key={`d${i}`} class="deny-row">
                Deny rule #{i + 1}: {ruleSummary(r)}
              </li>
            ))}
          </ul>
        </div>
      ))}
    </section>
  );
}
