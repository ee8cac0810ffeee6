// The read-only pages: the effective policy with the origin of each binding, the troubleshooter (CheckAccess with its
// explanation), and the audit log.
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "preact/hooks";
import { AccessState, type CheckAccessResponse } from "../../gen/policy/v1/access_service_pb.js";
import type { AuditEntry } from "../../gen/policy/v1/audit_service_pb.js";
import { SyncStatus, type Expr } from "../../gen/policy/v1/policy_pb.js";
import type { EffectivePolicy } from "../../gen/policy/v1/policy_service_pb.js";
import { canonicalMember } from "../../src/domain/members.js";
import { api } from "./api.js";
import { fieldProblem, problemOf, type Problem } from "./problems.js";
import type { Schema } from "./schema.js";
import { ErrorBox, formatTime, hex, ResourceLink, TextField } from "./ui.js";

const conditionText = (c: Expr | undefined) => (c ? `${c.title ? `${c.title}: ` : ""}${c.expression}` : "");

export function EffectivePolicyPage({ resource }: { resource: string }) {
  const [effective, setEffective] = useState<EffectivePolicy>();
  const [problem, setProblem] = useState<Problem>();
  useEffect(() => {
    setEffective(undefined);
    setProblem(undefined);
    api.policies.lookupEffectivePolicy({ resource, options: { requestedPolicyVersion: 3 } }).then(setEffective, (e) => setProblem(problemOf(e)));
  }, [resource]);
  if (problem) return <ErrorBox problem={problem} />;
  if (!effective) return <p class="muted">loading…</p>;
  return (
    <section aria-label="Effective policy">
      <p class="muted">Every binding that applies to {resource}: its own and those inherited from its ancestors (allow semantics).</p>
      <table>
        <caption class="sr-only">Effective bindings of {resource}</caption>
        <thead>
          <tr>
            <th scope="col">Role</th>
            <th scope="col">Members</th>
            <th scope="col">Condition</th>
            <th scope="col">Granted on</th>
          </tr>
        </thead>
        <tbody>
          {effective.bindings.map((b, i) => (
            <tr key={i}>
              <td>{b.binding?.role}</td>
              <td>
                {b.binding?.members.map((m) => (
                  <code class="chip" key={m}>
                    {m}
                  </code>
                ))}
              </td>
              <td>
                <code>{conditionText(b.binding?.condition)}</code>
              </td>
              <td>
                <ResourceLink name={b.resource} />
                {b.resource === resource ? " (this resource)" : " (inherited)"}
              </td>
            </tr>
          ))}
          {effective.bindings.length === 0 && (
            <tr>
              <td colSpan={4} class="muted">
                No policy anywhere up the chain: nobody but the server's administrators has access.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <h2>Policies on the chain</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Resource</th>
            <th scope="col">Version</th>
            <th scope="col">Bindings</th>
            <th scope="col">Sync status</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          {effective.policies.map((p) => (
            <tr key={p.resource}>
              <td>
                <ResourceLink name={p.resource} />
              </td>
              <td>{p.policy?.version}</td>
              <td>{p.policy?.bindings.length}</td>
              <td>{SyncStatus[p.policy?.syncStatus ?? 0]?.replace(/^SYNC_STATUS_/, "")}</td>
              <td>{formatTime(p.policy?.updateTime)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

const STATE: Record<number, string> = {
  [AccessState.GRANTED]: "granted",
  [AccessState.NOT_GRANTED]: "not granted",
  [AccessState.UNKNOWN_CONDITIONAL]: "unknown (a condition needs attributes)",
  [AccessState.UNSPECIFIED]: "unspecified",
};

export function Troubleshooter({ schema, resource }: { schema: Schema; resource: string }) {
  const [target, setTarget] = useState(resource);
  const [principals, setPrincipals] = useState("");
  const [permissions, setPermissions] = useState("");
  const [attributes, setAttributes] = useState("");
  const [answer, setAnswer] = useState<CheckAccessResponse>();
  const [problem, setProblem] = useState<Problem>();
  useEffect(() => setTarget(resource), [resource]);

  const principalList = principals.split(/[\s,]+/).filter(Boolean);
  const principalError = principalList.map((m) => canonicalMember(m)).find((r): r is { error: string } => "error" in r)?.error;
  let attributeError: string | undefined;
  let attributeValues: Record<string, Value> = {};
  if (attributes.trim()) {
    try {
      const json = JSON.parse(attributes) as JsonValue;
      if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Error("a JSON object is expected");
      attributeValues = Object.fromEntries(Object.entries(json).map(([k, v]) => [k, fromJson(ValueSchema, v as JsonValue)]));
    } catch (e) {
      attributeError = `not a JSON object: ${(e as Error).message}`;
    }
  }

  async function check(e: Event) {
    e.preventDefault();
    setProblem(undefined);
    setAnswer(undefined);
    try {
      setAnswer(
        await api.access.checkAccess({
          resource: target.trim(),
          principals: principalList,
          permissions: permissions.split(/[\s,]+/).filter(Boolean),
          attributes: attributeValues,
          explain: true,
        }),
      );
    } catch (err) {
      setProblem(problemOf(err));
    }
  }

  return (
    <section aria-label="Troubleshooter">
      <form class="form" onSubmit={check}>
        <TextField label="Resource" name="resource" value={target} onInput={setTarget} error={fieldProblem(problem, "resource")} />
        <TextField
          label="Principals"
          name="principals"
          value={principals}
          onInput={setPrincipals}
          hint="One or more members, e.g. user:ada@example.com group:ug_admins (a caller and its groups)"
          error={principalError ?? problem?.fields.find((f) => f.field.startsWith("principals"))?.description}
        />
        <TextField
          label="Permissions"
          name="permissions"
          value={permissions}
          onInput={setPermissions}
          list="permission-list"
          hint="e.g. projects.update; several separated by spaces"
          error={problem?.fields.find((f) => f.field.startsWith("permissions"))?.description}
        />
        <datalist id="permission-list">
          {schema.permissions.map((p) => (
            <option key={p} value={p} />
          ))}
        </datalist>
        <TextField
          label="Request attributes (JSON)"
          name="attributes"
          value={attributes}
          onInput={setAttributes}
          multiline
          hint='For conditions, e.g. {"ip": "10.0.0.1"}'
          error={attributeError ?? problem?.fields.find((f) => f.field.startsWith("attributes"))?.description}
        />
        <div class="actions">
          <button type="submit" class="primary" disabled={principalError !== undefined || attributeError !== undefined}>
            Check access
          </button>
        </div>
      </form>
      <ErrorBox problem={problem} />
      {answer && (
        <div class="answer" aria-live="polite">
          {answer.results.map((r) => (
            <div key={r.permission} class={`result state-${AccessState[r.state]}`}>
              <h2>
                <code>{r.permission}</code>: {STATE[r.state]}
              </h2>
              <table>
                <caption class="sr-only">Why {r.permission} is {STATE[r.state]}</caption>
                <thead>
                  <tr>
                    <th scope="col">Binding</th>
                    <th scope="col">On</th>
                    <th scope="col">Member</th>
                    <th scope="col">Condition</th>
                    <th scope="col">Outcome</th>
                    <th scope="col">Reason</th>
                  </tr>
                </thead>
                <tbody>
                  {r.explanations.map((x, i) => (
                    <tr key={i}>
                      <td>{x.role}</td>
                      <td>
                        <ResourceLink name={x.resource} />
                      </td>
                      <td>{x.matchedMember && <code>{x.matchedMember}</code>}</td>
                      <td>
                        <code>{conditionText(x.condition)}</code>
                      </td>
                      <td>{STATE[x.state]}</td>
                      <td>{x.reason}</td>
                    </tr>
                  ))}
                  {r.explanations.length === 0 && (
                    <tr>
                      <td colSpan={6} class="muted">
                        No binding on this resource or its ancestors grants a role with this permission.
                      </td>
                    </tr>
                  )}
                </tbody>
              </table>
            </div>
          ))}
        </div>
      )}
    </section>
  );
}

export function AuditLog({ resource }: { resource: string }) {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<string>();
  const [problem, setProblem] = useState<Problem>();
  const [loading, setLoading] = useState(false);

  async function load(pageToken: string, previous: AuditEntry[]) {
    setLoading(true);
    try {
      const res = await api.audit.listAuditEntries({ resource, pageSize: 50, pageToken });
      setEntries([...previous, ...res.entries]);
      setNext(res.nextPageToken || undefined);
    } catch (e) {
      setProblem(problemOf(e));
    } finally {
      setLoading(false);
    }
  }
  useEffect(() => {
    setEntries([]);
    setProblem(undefined);
    void load("", []);
  }, [resource]);

  return (
    <section aria-label="Audit log">
      <ErrorBox problem={problem} />
      <table>
        <caption class="sr-only">Audit log of {resource}</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Time</th>
            <th scope="col">Who</th>
            <th scope="col">What</th>
            <th scope="col">Resource</th>
            <th scope="col">Etag before → after</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={String(e.sequence)}>
              <td>{String(e.sequence)}</td>
              <td>{formatTime(e.time)}</td>
              <td>
                <code>{e.principal}</code>
              </td>
              <td>{e.action}</td>
              <td>
                <ResourceLink name={e.resource} />
              </td>
              <td>
                <code>{hex(e.etagBefore) || "—"}</code> → <code>{hex(e.etagAfter) || "—"}</code>
              </td>
            </tr>
          ))}
          {!loading && entries.length === 0 && !problem && (
            <tr>
              <td colSpan={6} class="muted">
                No entries.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {next && (
        <button type="button" onClick={() => void load(next, entries)} disabled={loading}>
          Load older entries
        </button>
      )}
    </section>
  );
}
