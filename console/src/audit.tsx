// The audit log: newest first, filtered by actor, action and time, optionally the whole subtree (an organization-wide
// view), with the change each policy write made (grants added and removed). Etags in base64, as everywhere.
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "preact/hooks";
import type { AuditEntry } from "../../gen/policy/v1/audit_service_pb.js";
import { api } from "./api.js";
import { describeGrant, diff, rowsOf } from "./policy-edit.js";
import { problemOf, type Problem } from "./problems.js";
import { base64, ErrorBox, formatTime, ResourceLink, TextField, Wide } from "./ui.js";

const ACTIONS = [
  "resource.create",
  "resource.update",
  "resource.delete",
  "policy.set",
  "policy.delete",
  "denyPolicy.set",
  "denyPolicy.delete",
  "role.create",
  "role.update",
  "role.delete",
  "role.undelete",
  "sharedPolicy.create",
  "sharedPolicy.update",
  "sharedPolicy.delete",
  "sharedPolicyBinding.create",
  "sharedPolicyBinding.delete",
];

interface Filters {
  actor: string;
  action: string;
  from: string;
  to: string;
  subtree: boolean;
}

const ms = (local: string) => (local ? new Date(local).getTime() : undefined);

export function AuditLog({ resource, isRoot }: { resource: string; isRoot: boolean }) {
  const [filters, setFilters] = useState<Filters>({ actor: "", action: "", from: "", to: "", subtree: isRoot });
  const [applied, setApplied] = useState(filters);
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<string>();
  const [problem, setProblem] = useState<Problem>();
  const [loading, setLoading] = useState(false);

  async function load(pageToken: string, previous: AuditEntry[]) {
    setLoading(true);
    setProblem(undefined);
    try {
      let token = pageToken;
      let found = previous;
      // A subtree page may come back short (it examined its share of the log): go on until something shows.
      for (let i = 0; i < 20; i++) {
        const from = ms(applied.from);
        const to = ms(applied.to);
        const res = await api.audit.listAuditEntries({
          resource,
          principal: applied.actor.trim(),
          action: applied.action,
          startTime: from === undefined ? undefined : timestampFromMs(from),
          endTime: to === undefined ? undefined : timestampFromMs(to),
          includeDescendants: applied.subtree,
          orderBy: "sequence desc",
          pageSize: 50,
          pageToken: token,
        });
        found = [...found, ...res.entries];
        token = res.nextPageToken;
        if (found.length > previous.length || !token) break;
      }
      setEntries(found);
      setNext(token || undefined);
    } catch (e) {
      setProblem(problemOf(e));
    } finally {
      setLoading(false);
    }
  }
  useEffect(() => {
    setEntries([]);
    void load("", []);
  }, [resource, applied]);

  const set = (patch: Partial<Filters>) => setFilters({ ...filters, ...patch });
  return (
    <section aria-label="Audit log">
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filters);
        }}
      >
        <TextField label="Actor" name="actor" value={filters.actor} onInput={(v) => set({ actor: v })} placeholder="user:ada@example.com" />
        <div class="field">
          <label for="audit-action">Action</label>
          <select id="audit-action" value={filters.action} onChange={(e) => set({ action: (e.currentTarget as HTMLSelectElement).value })}>
            <option value="">any</option>
            {ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="audit-from">From</label>
          <input id="audit-from" type="datetime-local" value={filters.from} onInput={(e) => set({ from: (e.currentTarget as HTMLInputElement).value })} />
        </div>
        <div class="field">
          <label for="audit-to">Before</label>
          <input id="audit-to" type="datetime-local" value={filters.to} onInput={(e) => set({ to: (e.currentTarget as HTMLInputElement).value })} />
        </div>
        <label class="check">
          <input type="checkbox" checked={filters.subtree} onChange={(e) => set({ subtree: (e.currentTarget as HTMLInputElement).checked })} /> Include
          everything beneath
        </label>
        <button type="submit">Apply filters</button>
      </form>
      <ErrorBox problem={problem} onRetry={() => void load("", [])} />
      <p class="muted">Newest first.</p>
      <Wide>
        <table class="audit">
          <caption class="sr-only">Audit log of {resource}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Time</th>
              <th scope="col">Who</th>
              <th scope="col">What</th>
              <th scope="col">Resource</th>
              <th scope="col">Change</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={String(e.sequence)} data-sequence={String(e.sequence)}>
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
                  <Change entry={e} />
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
      </Wide>
      {loading && <p class="muted">loading…</p>}
      {next && (
        <button type="button" onClick={() => void load(next, entries)} disabled={loading}>
          Load older entries
        </button>
      )}
    </section>
  );
}

/** A policy write's grants added and removed; the etags before and after. */
function Change({ entry: e }: { entry: AuditEntry }) {
  const isPolicy = e.action === "policy.set" || e.action === "policy.delete";
  const hidden = e.action === "policy.set" && !e.policy;
  const change = isPolicy && !hidden ? diff(e.policyBefore ? rowsOf(e.policyBefore) : [], e.policy ? rowsOf(e.policy) : []) : undefined;
  return (
    <>
      {hidden && <p class="muted">The policy written is not shown: you may not read this resource's policy.</p>}
      {change && (
        <ul class="diff">
          {change.added.map((g) => (
            <li key={`+${describeGrant(g)}`} class="added">
              + {describeGrant(g)}
            </li>
          ))}
          {change.removed.map((g) => (
            <li key={`-${describeGrant(g)}`} class="removed">
              − {describeGrant(g)}
            </li>
          ))}
          {change.added.length + change.removed.length === 0 && <li class="muted">no grant changed</li>}
        </ul>
      )}
      <small class="muted">
        etag <code>{base64(e.etagBefore) || "—"}</code> → <code>{base64(e.etagAfter) || "—"}</code>
      </small>
    </>
  );
}
