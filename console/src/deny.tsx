// A resource's deny policy: its rules, viewed and (with `{collection}.setDenyPolicy`) edited, each field checked as it
// is typed with the server's member rules, and saved with the etag it was read with. The shared editor of rules is
// also used for a shared policy's deny rules.
import { create } from "@bufbuild/protobuf";
import { useEffect, useState } from "preact/hooks";
import { DenyRuleSchema, type DenyRule } from "../../gen/policy/v1/deny_policy_pb.js";
import { canonicalMember } from "../../src/domain/members.js";
import { api } from "./api.js";
import { bindingField, problemOf, type Problem } from "./problems.js";
import type { Schema } from "./schema.js";
import { usePermissions, useUnsaved } from "./session.js";
import { base64, ErrorBox, TextField, words } from "./ui.js";

/** One rule as the form edits it: lists as space-separated text. */
export interface RuleForm {
  description: string;
  deniedPrincipals: string;
  exceptionPrincipals: string;
  deniedPermissions: string;
  exceptionPermissions: string;
  condition: string;
}

export const formOf = (r: DenyRule): RuleForm => ({
  description: r.description,
  deniedPrincipals: r.deniedPrincipals.join(" "),
  exceptionPrincipals: r.exceptionPrincipals.join(" "),
  deniedPermissions: r.deniedPermissions.join(" "),
  exceptionPermissions: r.exceptionPermissions.join(" "),
  condition: r.denialCondition?.expression ?? "",
});

export const ruleOf = (f: RuleForm): DenyRule =>
  create(DenyRuleSchema, {
    description: f.description.trim(),
    deniedPrincipals: words(f.deniedPrincipals),
    exceptionPrincipals: words(f.exceptionPrincipals),
    deniedPermissions: words(f.deniedPermissions),
    exceptionPermissions: words(f.exceptionPermissions),
    denialCondition: f.condition.trim() ? { expression: f.condition.trim(), title: "", description: "", location: "" } : undefined,
  });

const EMPTY: RuleForm = { description: "", deniedPrincipals: "", exceptionPrincipals: "", deniedPermissions: "", exceptionPermissions: "", condition: "" };

/** The first principal of `text` that is not a member the server accepts, with why. */
function principalProblem(text: string): string | undefined {
  for (const p of words(text)) {
    const r = canonicalMember(p);
    if ("error" in r) return r.error;
  }
  return undefined;
}

/** The first permission of `text` that is neither one the schema knows, nor `{collection}.*`, nor `*`. */
function permissionProblem(schema: Schema, text: string): string | undefined {
  const collections = new Set(schema.permissions.map((p) => p.slice(0, p.indexOf("."))));
  for (const p of words(text)) {
    const ok = p === "*" || (p.endsWith(".*") ? collections.has(p.slice(0, -2)) : schema.knows(p));
    if (!ok) return `"${p}" is not a permission the schema knows, nor {collection}.* of a known collection, nor *`;
  }
  return undefined;
}

/** Whether the forms can be sent: every list well-formed and each rule naming someone and something. */
export function rulesInvalid(schema: Schema, forms: readonly RuleForm[]): boolean {
  return forms.some(
    (f) =>
      principalProblem(f.deniedPrincipals) ||
      principalProblem(f.exceptionPrincipals) ||
      permissionProblem(schema, f.deniedPermissions) ||
      permissionProblem(schema, f.exceptionPermissions) ||
      words(f.deniedPrincipals).length === 0 ||
      words(f.deniedPermissions).length === 0,
  );
}

/** The rules' table of forms; `problems` are the server's, by rule index and field (`.denied_principals[0]`). */
export function RulesEditor(p: {
  schema: Schema;
  forms: RuleForm[];
  onChange: (forms: RuleForm[]) => void;
  problems: Map<number, Map<string, string>>;
  disabled: boolean;
}) {
  const set = (i: number, patch: Partial<RuleForm>) => p.onChange(p.forms.map((f, j) => (j === i ? { ...f, ...patch } : f)));
  const server = (i: number, field: string) => {
    const m = p.problems.get(i);
    if (!m) return undefined;
    for (const [k, v] of m) if (k === field || k.startsWith(`${field}[`)) return v;
    return undefined;
  };
  return (
    <fieldset class="plain" disabled={p.disabled}>
      <ol class="rules">
        {p.forms.map((f, i) => (
          <li key={i} class="rule" aria-label={`Deny rule ${i + 1}`}>
            <h3>Rule {i + 1}</h3>
            <TextField label={`Description of rule ${i + 1}`} value={f.description} onInput={(v) => set(i, { description: v })} error={server(i, ".description")} />
            <TextField
              label={`Denied principals of rule ${i + 1}`}
              value={f.deniedPrincipals}
              onInput={(v) => set(i, { deniedPrincipals: v })}
              hint="e.g. user:bob@example.com domain:example.com allAuthenticatedUsers"
              error={principalProblem(f.deniedPrincipals) ?? (words(f.deniedPrincipals).length === 0 ? "a rule needs at least one denied principal" : server(i, ".denied_principals"))}
            />
            <TextField
              label={`Exception principals of rule ${i + 1}`}
              value={f.exceptionPrincipals}
              onInput={(v) => set(i, { exceptionPrincipals: v })}
              error={principalProblem(f.exceptionPrincipals) ?? server(i, ".exception_principals")}
            />
            <TextField
              label={`Denied permissions of rule ${i + 1}`}
              value={f.deniedPermissions}
              onInput={(v) => set(i, { deniedPermissions: v })}
              hint="e.g. projects.delete, projects.*, or *"
              error={
                permissionProblem(p.schema, f.deniedPermissions) ??
                (words(f.deniedPermissions).length === 0 ? "a rule needs at least one denied permission" : server(i, ".denied_permissions"))
              }
            />
            <TextField
              label={`Exception permissions of rule ${i + 1}`}
              value={f.exceptionPermissions}
              onInput={(v) => set(i, { exceptionPermissions: v })}
              error={permissionProblem(p.schema, f.exceptionPermissions) ?? server(i, ".exception_permissions")}
            />
            <TextField
              label={`Denial condition of rule ${i + 1}`}
              value={f.condition}
              onInput={(v) => set(i, { condition: v })}
              hint="Optional CEL: the rule denies only while it is true"
              error={server(i, ".denial_condition")}
              multiline
            />
            <button type="button" class="danger" onClick={() => p.onChange(p.forms.filter((_, j) => j !== i))}>
              Remove rule {i + 1}
            </button>
          </li>
        ))}
      </ol>
      {p.forms.length === 0 && <p class="muted">No deny rules.</p>}
      <button type="button" onClick={() => p.onChange([...p.forms, { ...EMPTY }])}>
        Add deny rule
      </button>
    </fieldset>
  );
}

/** Server field problems under `prefix` (`deny_policy.rules`), by rule index. */
export function ruleProblems(problem: Problem, prefix: string): Map<number, Map<string, string>> {
  const byRule = new Map<number, Map<string, string>>();
  for (const f of problem.fields) {
    const at = bindingField(f.field, prefix);
    if (!at) continue;
    if (!byRule.has(at.binding)) byRule.set(at.binding, new Map());
    byRule.get(at.binding)!.set(at.rest, f.description);
  }
  return byRule;
}

export function DenyPolicyEditor({ schema, resource }: { schema: Schema; resource: string }) {
  const [etag, setEtag] = useState<Uint8Array>();
  const [saved, setSaved] = useState<RuleForm[]>([]);
  const [forms, setForms] = useState<RuleForm[]>([]);
  const [problem, setProblem] = useState<Problem>();
  const [problems, setProblems] = useState(new Map<number, Map<string, string>>());
  const [status, setStatus] = useState("");
  const [attempt, setAttempt] = useState(0);
  const collection = resource.slice(0, resource.indexOf("/"));
  const held = usePermissions(schema, resource, [`${collection}.setDenyPolicy`]);
  const mayEdit = held?.has(`${collection}.setDenyPolicy`) ?? false;
  const dirty = JSON.stringify(forms) !== JSON.stringify(saved);
  useUnsaved(`deny:${resource}`, dirty ? `the deny rules of ${resource}` : undefined);

  useEffect(() => {
    setEtag(undefined);
    setProblem(undefined);
    api.denyPolicies.getDenyPolicy({ resource }).then(
      (d) => {
        const f = d.rules.map(formOf);
        setEtag(d.etag);
        setSaved(f);
        setForms(structuredClone(f));
      },
      (e) => setProblem(problemOf(e)),
    );
  }, [resource, attempt]);

  async function save() {
    setProblem(undefined);
    setProblems(new Map());
    setStatus("");
    try {
      const d = await api.denyPolicies.setDenyPolicy({ resource, denyPolicy: { etag, rules: forms.map(ruleOf) } });
      const f = d.rules.map(formOf);
      setEtag(d.etag);
      setSaved(f);
      setForms(structuredClone(f));
      setStatus("Deny rules saved.");
    } catch (e) {
      const p = problemOf(e);
      setProblem(p);
      setProblems(ruleProblems(p, "deny_policy.rules"));
    }
  }

  if (!etag) return problem ? <ErrorBox problem={problem} onRetry={() => setAttempt((a) => a + 1)} /> : <p class="muted">loading…</p>;
  return (
    <section aria-label="Deny rules">
      <p class="muted">
        Deny rules on {resource} apply to it and everything under it, and win over every allow binding anywhere. Etag <code>{base64(etag)}</code>
      </p>
      {held && !mayEdit && (
        <p class="notice" role="note">
          Read-only: you do not hold <code>{collection}.setDenyPolicy</code> here.
        </p>
      )}
      <RulesEditor schema={schema} forms={forms} onChange={setForms} problems={problems} disabled={!mayEdit} />
      <div class="actions">
        <span class="spacer" />
        <button type="button" onClick={() => setForms(structuredClone(saved))} disabled={!dirty}>
          Discard changes
        </button>
        <button type="button" class="primary" onClick={() => void save()} disabled={!dirty || !mayEdit || rulesInvalid(schema, forms)}>
          Save deny rules
        </button>
      </div>
      <p role="status" class="muted">
        {status}
      </p>
      <ErrorBox problem={problem} />
    </section>
  );
}
