// The effective policy: every binding and deny rule in force on a resource, each with where it comes from (the
// resource or an ancestor, its own policy or a shared policy bound there), and whether the answer is cut down.
import { useEffect, useState } from "preact/hooks";
import type { DenyRule } from "../../gen/policy/v1/deny_policy_pb.js";
import { SyncStatus, type Expr } from "../../gen/policy/v1/policy_pb.js";
import type { EffectivePolicy } from "../../gen/policy/v1/policy_service_pb.js";
import { api } from "./api.js";
import { problemOf, type Problem } from "./problems.js";
import { ErrorBox, formatTime, ResourceLink, Wide } from "./ui.js";

export const conditionText = (c: Expr | undefined) => (c ? `${c.title ? `${c.title}: ` : ""}${c.expression}` : "");

/** Where a binding or rule comes from: the resource (this one or an ancestor) and the shared policy holding it. */
export function Origin({ resource, sharedPolicy, here }: { resource: string; sharedPolicy: string; here: string }) {
  return (
    <>
      <ResourceLink name={resource} />
      {resource === here ? " (this resource)" : " (inherited)"}
      {sharedPolicy && (
        <>
          {" "}
          through shared policy <ResourceLink name={sharedPolicy} />
        </>
      )}
    </>
  );
}

export function Chips({ items, kind }: { items: readonly string[]; kind?: string }) {
  return (
    <>
      {items.map((m) => (
        <code class={`chip${kind ? ` ${kind}` : ""}`} key={m}>
          {m}
        </code>
      ))}
    </>
  );
}

export function ruleSummary(rule: DenyRule) {
  return (
    <>
      <div>
        Denies <Chips items={rule.deniedPermissions} /> to <Chips items={rule.deniedPrincipals} />
      </div>
      {rule.exceptionPrincipals.length > 0 && (
        <div>
          except principals <Chips items={rule.exceptionPrincipals} />
        </div>
      )}
      {rule.exceptionPermissions.length > 0 && (
        <div>
          except permissions <Chips items={rule.exceptionPermissions} />
        </div>
      )}
      {rule.denialCondition && (
        <div>
          if <code>{conditionText(rule.denialCondition)}</code>
        </div>
      )}
    </>
  );
}

export function PartialNotice({ what }: { what: string }) {
  return (
    <p class="partial" role="note">
      <strong>Partial answer.</strong> You may not read the policies of some ancestors of this resource, so {what} left
      out: access in force may be wider (or narrower, by deny rules) than shown. Someone who may read every ancestor's
      policy sees the whole answer.
    </p>
  );
}

export function EffectivePolicyPage({ resource }: { resource: string }) {
  const [effective, setEffective] = useState<EffectivePolicy>();
  const [problem, setProblem] = useState<Problem>();
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    setEffective(undefined);
    setProblem(undefined);
    api.policies.lookupEffectivePolicy({ resource, options: { requestedPolicyVersion: 3 } }).then(setEffective, (e) => setProblem(problemOf(e)));
  }, [resource, attempt]);
  if (problem) return <ErrorBox problem={problem} onRetry={() => setAttempt((a) => a + 1)} />;
  if (!effective) return <p class="muted">loading…</p>;
  return (
    <section aria-label="Effective policy">
      {effective.partial && <PartialNotice what="their bindings, deny rules and shared policies are" />}
      <h2>Allow bindings</h2>
      <p class="muted">Every binding that applies to {resource}: its own and those inherited from its ancestors, including shared policies bound to them.</p>
      <Wide>
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
                  <Chips items={b.binding?.members ?? []} />
                </td>
                <td>
                  <code>{conditionText(b.binding?.condition)}</code>
                </td>
                <td>
                  <Origin resource={b.resource} sharedPolicy={b.sharedPolicy} here={resource} />
                </td>
              </tr>
            ))}
            {effective.bindings.length === 0 && (
              <tr>
                <td colSpan={4} class="muted">
                  {effective.partial ? "No binding you may see." : "No policy anywhere up the chain: nobody but the server's administrators has access."}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </Wide>
      <h2>Deny rules</h2>
      <p class="muted">A deny rule anywhere here wins over every binding above.</p>
      <Wide>
        <table>
          <caption class="sr-only">Deny rules in force on {resource}</caption>
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">What it denies</th>
              <th scope="col">Attached to</th>
            </tr>
          </thead>
          <tbody>
            {effective.denyRules.map((r, i) => (
              <tr key={i} class="deny-row">
                <td>
                  #{r.ruleIndex + 1} {r.rule?.description}
                </td>
                <td>{r.rule && ruleSummary(r.rule)}</td>
                <td>
                  <Origin resource={r.resource} sharedPolicy={r.sharedPolicy} here={resource} />
                </td>
              </tr>
            ))}
            {effective.denyRules.length === 0 && (
              <tr>
                <td colSpan={3} class="muted">
                  No deny rule{effective.partial ? " you may see" : ""}.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </Wide>
      <h2>Shared policies in force</h2>
      <Wide>
        <table>
          <thead>
            <tr>
              <th scope="col">Shared policy</th>
              <th scope="col">Bound to</th>
              <th scope="col">Bindings</th>
              <th scope="col">Deny rules</th>
            </tr>
          </thead>
          <tbody>
            {effective.sharedPolicies.map((s) => (
              <tr key={`${s.sharedPolicy?.name}@${s.resource}`}>
                <td>
                  <ResourceLink name={s.sharedPolicy?.name ?? ""} /> {s.sharedPolicy?.displayName}
                </td>
                <td>
                  <ResourceLink name={s.resource} />
                </td>
                <td>{s.sharedPolicy?.bindings.length}</td>
                <td>{s.sharedPolicy?.denyRules.length}</td>
              </tr>
            ))}
            {effective.sharedPolicies.length === 0 && (
              <tr>
                <td colSpan={4} class="muted">
                  None.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </Wide>
      <h2>Policies on the chain</h2>
      <Wide>
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
      </Wide>
    </section>
  );
}
