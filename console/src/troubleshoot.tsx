// The troubleshooter, as IAM's Policy Troubleshooter: CheckAccess with its explanation, per permission the verdict
// (GRANTED, NOT GRANTED, DENIED, UNKNOWN) with the allow evaluation and the deny evaluation side by side — each
// binding and deny rule considered, the resource it is on, the shared policy holding it, and why.
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "preact/hooks";
import { AccessState, type CheckAccessResponse, type PermissionCheck } from "../../gen/policy/v1/access_service_pb.js";
import { canonicalMember } from "../../src/domain/members.js";
import { api } from "./api.js";
import { conditionText, Origin, PartialNotice } from "./effective.js";
import { problemOf, type Problem } from "./problems.js";
import type { Schema } from "./schema.js";
import { currentIdentity } from "./session.js";
import { ErrorBox, TextField, Wide, words } from "./ui.js";

export const STATE_LABEL: Record<number, string> = {
  [AccessState.GRANTED]: "GRANTED",
  [AccessState.NOT_GRANTED]: "NOT GRANTED",
  [AccessState.UNKNOWN_CONDITIONAL]: "UNKNOWN (a condition needs request attributes)",
  [AccessState.DENIED]: "DENIED",
  [AccessState.UNSPECIFIED]: "unspecified",
};

/** A JSON object of request attributes as CheckAccess takes them, or the problem with the text. */
export function parseAttributes(text: string): { values: Record<string, Value> } | { error: string } {
  if (!text.trim()) return { values: {} };
  try {
    const json = JSON.parse(text) as JsonValue;
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Error("a JSON object is expected");
    return { values: Object.fromEntries(Object.entries(json).map(([k, v]) => [k, fromJson(ValueSchema, v as JsonValue)])) };
  } catch (e) {
    return { error: `not a JSON object: ${(e as Error).message}` };
  }
}

export function Troubleshooter({ schema, resource }: { schema: Schema; resource: string }) {
  const [target, setTarget] = useState(resource);
  const [principals, setPrincipals] = useState("");
  const [permissions, setPermissions] = useState("");
  const [attributes, setAttributes] = useState("");
  const [answer, setAnswer] = useState<CheckAccessResponse>();
  const [problem, setProblem] = useState<Problem>();
  useEffect(() => setTarget(resource), [resource]);
  // An answer belongs to its inputs: any change clears it, so it is never read as the answer to other ones.
  useEffect(() => {
    setAnswer(undefined);
    setProblem(undefined);
  }, [target, principals, permissions, attributes]);

  const principalList = words(principals);
  const principalError = principalList.map((m) => canonicalMember(m)).find((r): r is { error: string } => "error" in r)?.error;
  const parsed = parseAttributes(attributes);
  const attributeError = "error" in parsed ? parsed.error : undefined;
  const me = currentIdentity();

  async function check(e: Event) {
    e.preventDefault();
    setProblem(undefined);
    setAnswer(undefined);
    try {
      setAnswer(
        await api.access.checkAccess({
          resource: target.trim(),
          principals: principalList,
          permissions: words(permissions),
          attributes: "values" in parsed ? parsed.values : {},
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
        <TextField label="Resource" name="resource" value={target} onInput={setTarget} error={problem?.fields.find((f) => f.field === "resource")?.description} />
        <TextField
          label="Principals"
          name="principals"
          value={principals}
          onInput={setPrincipals}
          hint="One or more members, e.g. user:ada@example.com group:ug_admins (a caller and its groups)"
          error={principalError ?? problem?.fields.find((f) => f.field.startsWith("principals"))?.description}
        />
        {me && me.identities.length > 0 && (
          <button type="button" onClick={() => setPrincipals(me.identities.join(" "))}>
            Use my identities
          </button>
        )}
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
          {answer.partialExplanations && <PartialNotice what="the bindings and deny rules on them are not listed (they still decide the answer, which is" />}
          {answer.results.map((r) => (
            <Verdict key={r.permission} result={r} resource={target.trim()} />
          ))}
        </div>
      )}
    </section>
  );
}

function Verdict({ result: r, resource }: { result: PermissionCheck; resource: string }) {
  const label = STATE_LABEL[r.state] ?? "";
  const denying = r.denyExplanations.filter((d) => d.state === AccessState.DENIED);
  return (
    <div class={`result state-${AccessState[r.state]}`} data-permission={r.permission}>
      <h2>
        <code>{r.permission}</code>: <span class="verdict">{label}</span>
      </h2>
      {r.state === AccessState.DENIED && (
        <p class="why">
          Denied by{" "}
          {denying.map((d, i) => (
            <span key={i}>
              {i > 0 && "; "}rule #{d.ruleIndex + 1}
              {d.description ? ` (${d.description})` : ""} on <Origin resource={d.resource} sharedPolicy={d.sharedPolicy} here={resource} />
            </span>
          ))}
          . A deny rule wins over every allow binding, wherever either is attached.
        </p>
      )}
      <div class="evaluations">
        <div>
          <h3>Allow evaluation</h3>
          <Wide>
            <table>
              <caption class="sr-only">Bindings considered for {r.permission}</caption>
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
                  <tr key={i} class="allow-row">
                    <td>{x.role}</td>
                    <td>
                      <Origin resource={x.resource} sharedPolicy={x.sharedPolicy} here={resource} />
                    </td>
                    <td>{x.matchedMember && <code>{x.matchedMember}</code>}</td>
                    <td>
                      <code>{conditionText(x.condition)}</code>
                    </td>
                    <td>{STATE_LABEL[x.state]}</td>
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
          </Wide>
        </div>
        <div>
          <h3>Deny evaluation</h3>
          <Wide>
            <table>
              <caption class="sr-only">Deny rules considered for {r.permission}</caption>
              <thead>
                <tr>
                  <th scope="col">Rule</th>
                  <th scope="col">On</th>
                  <th scope="col">Principal</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {r.denyExplanations.map((d, i) => (
                  <tr key={i} class="deny-row">
                    <td>
                      #{d.ruleIndex + 1} {d.description}
                    </td>
                    <td>
                      <Origin resource={d.resource} sharedPolicy={d.sharedPolicy} here={resource} />
                    </td>
                    <td>{d.matchedPrincipal && <code>{d.matchedPrincipal}</code>}</td>
                    <td>{d.state === AccessState.NOT_GRANTED ? "does not apply" : STATE_LABEL[d.state]}</td>
                    <td>{d.reason}</td>
                  </tr>
                ))}
                {r.denyExplanations.length === 0 && (
                  <tr>
                    <td colSpan={5} class="muted">
                      No deny rule on this resource or its ancestors names this permission.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </Wide>
        </div>
      </div>
    </div>
  );
}
