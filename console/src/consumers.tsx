// Sync consumers: each one's scope, acknowledged sequence, lag and failure count; and the deliveries that failed, with
// the consumer's message, found from the policies whose sync status is FAILED (ListPolicies, then GetSyncStatus).
import { useEffect, useState } from "preact/hooks";
import { SyncStatus } from "../../gen/policy/v1/policy_pb.js";
import type { Consumer, GetSyncStatusResponse } from "../../gen/policy/v1/sync_service_pb.js";
import { api } from "./api.js";
import { problemOf, type Problem } from "./problems.js";
import type { Schema } from "./schema.js";
import { ErrorBox, formatTime, ResourceLink, Wide } from "./ui.js";

/** Failed policies read per type: the page shows the first ones, not every failure of a large deployment. */
const FAILED_PER_TYPE = 50;

export function Consumers({ schema }: { schema: Schema }) {
  const [consumers, setConsumers] = useState<Consumer[]>();
  const [failures, setFailures] = useState<GetSyncStatusResponse[]>();
  const [problem, setProblem] = useState<Problem>();
  const [failureProblem, setFailureProblem] = useState<Problem>();
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    setProblem(undefined);
    api.sync.listConsumers({}).then(
      (r) => setConsumers(r.consumers),
      (e) => setProblem(problemOf(e)),
    );
    (async () => {
      const failed = await Promise.all(
        schema.types.map((t) => api.policies.listPolicies({ resourceType: t.name, syncStatuses: [SyncStatus.FAILED], pageSize: FAILED_PER_TYPE })),
      );
      const resources = failed.flatMap((page) => page.resourcePolicies.map((p) => p.resource));
      setFailures(await Promise.all(resources.map((resource) => api.sync.getSyncStatus({ resource }))));
    })().catch((e) => setFailureProblem(problemOf(e)));
  }, [attempt]);

  return (
    <section aria-labelledby="consumers-title">
      <h1 id="consumers-title" tabIndex={-1}>
        Sync consumers
      </h1>
      <ErrorBox problem={problem} onRetry={() => setAttempt((a) => a + 1)} />
      {consumers && (
        <Wide>
          <table class="consumers">
            <thead>
              <tr>
                <th scope="col">Consumer</th>
                <th scope="col">Scope</th>
                <th scope="col">Acknowledged sequence</th>
                <th scope="col">Lag</th>
                <th scope="col">Failures</th>
                <th scope="col">Last acknowledged</th>
              </tr>
            </thead>
            <tbody>
              {consumers.map((c) => (
                <tr key={c.name} data-consumer={c.name}>
                  <td>
                    <code>{c.name}</code> {c.displayName}
                  </td>
                  <td>
                    {c.subtree ? <ResourceLink name={c.subtree} /> : "every resource"}
                    {c.resourceTypes.length > 0 && ` (${c.resourceTypes.join(", ")})`}
                  </td>
                  <td>{String(c.acknowledgedSequence)}</td>
                  <td>{String(c.lagSequences)} changes behind</td>
                  <td>{c.failureCount}</td>
                  <td>{formatTime(c.acknowledgeTime) || "never"}</td>
                </tr>
              ))}
              {consumers.length === 0 && (
                <tr>
                  <td colSpan={6} class="muted">
                    No consumers you may see: with none, every policy is in sync (nothing to deliver).
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </Wide>
      )}
      <h2>Failed deliveries</h2>
      <ErrorBox problem={failureProblem} />
      {failures && (
        <Wide>
          <table class="failures">
            <thead>
              <tr>
                <th scope="col">Resource</th>
                <th scope="col">Consumer</th>
                <th scope="col">Change</th>
                <th scope="col">Message</th>
                <th scope="col">Reported</th>
              </tr>
            </thead>
            <tbody>
              {failures.flatMap((s) =>
                s.consumers
                  .filter((c) => c.status === SyncStatus.FAILED)
                  .map((c) => (
                    <tr key={`${s.resource}/${c.consumer}`}>
                      <td>
                        <ResourceLink name={s.resource} />
                      </td>
                      <td>
                        <code>{c.consumer}</code>
                      </td>
                      <td>{String(c.failedSequence)}</td>
                      <td>{c.message}</td>
                      <td>{formatTime(c.failureTime)}</td>
                    </tr>
                  )),
              )}
              {failures.length === 0 && (
                <tr>
                  <td colSpan={5} class="muted">
                    No failed delivery.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </Wide>
      )}
    </section>
  );
}
