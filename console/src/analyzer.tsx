// The policy analyzer: who can do a permission on a resource (LookupMembers) and what a member can do it on
// (LookupResources, optionally beneath an ancestor), each a page at a time; partly denied members and cut-down
// answers said plainly.
import { useState } from "preact/hooks";
import { AccessState, type LookupMembersResponse, type LookupResourcesResponse } from "../../gen/policy/v1/access_service_pb.js";
import { canonicalMember } from "../../src/domain/members.js";
import { api } from "./api.js";
import { conditionText, Origin, PartialNotice } from "./effective.js";
import { problemOf, type Problem } from "./problems.js";
import type { Schema } from "./schema.js";
import { currentIdentity } from "./session.js";
import { STATE_LABEL } from "./troubleshoot.js";
import { ErrorBox, ResourceLink, TextField, Wide, words } from "./ui.js";

const PAGE = 50;

export function Analyzer({ schema, resource }: { schema: Schema; resource: string }) {
  return (
    <section aria-labelledby="analyzer-title">
      <h1 id="analyzer-title" tabIndex={-1}>
        Policy analyzer
      </h1>
      <datalist id="analyzer-permissions">
        {schema.permissions.map((p) => (
          <option key={p} value={p} />
        ))}
      </datalist>
      <WhoCan resource={resource} />
      <WhatCan schema={schema} ancestor={resource} />
    </section>
  );
}

function WhoCan({ resource: initial }: { resource: string }) {
  const [resource, setResource] = useState(initial);
  const [permission, setPermission] = useState("");
  const [pages, setPages] = useState<LookupMembersResponse[]>([]);
  const [problem, setProblem] = useState<Problem>();
  const [busy, setBusy] = useState(false);

  async function ask(pageToken: string, previous: LookupMembersResponse[]) {
    setBusy(true);
    setProblem(undefined);
    try {
      const page = await api.access.lookupMembers({ resource: resource.trim(), permission: permission.trim(), pageSize: PAGE, pageToken });
      setPages([...previous, page]);
    } catch (e) {
      setProblem(problemOf(e));
    } finally {
      setBusy(false);
    }
  }
  const grants = pages.flatMap((p) => p.grants);
  const next = pages.at(-1)?.nextPageToken;
  return (
    <section aria-labelledby="who-can-title">
      <h2 id="who-can-title">Who can do a permission on a resource</h2>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          setPages([]);
          void ask("", []);
        }}
      >
        <TextField label="Resource" name="who-resource" value={resource} onInput={(v) => (setResource(v), setPages([]))} placeholder="projects/p1" />
        <TextField label="Permission" name="who-permission" value={permission} onInput={(v) => (setPermission(v), setPages([]))} list="analyzer-permissions" />
        <button type="submit" class="primary" disabled={busy || !resource.trim() || !permission.trim()}>
          Who can
        </button>
      </form>
      <ErrorBox problem={problem} />
      {pages.length > 0 && (
        <>
          {pages.some((p) => p.partial) && <PartialNotice what="the bindings on them are" />}
          <Wide>
            <table class="who-can">
              <caption class="sr-only">Members holding {permission}</caption>
              <thead>
                <tr>
                  <th scope="col">Member</th>
                  <th scope="col">Role</th>
                  <th scope="col">Granted on</th>
                  <th scope="col">Condition</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {grants.map((g, i) => (
                  <tr key={i} data-member={g.member}>
                    <td>
                      <code>{g.member}</code>
                    </td>
                    <td>{g.role}</td>
                    <td>
                      <Origin resource={g.resource} sharedPolicy={g.sharedPolicy} here={resource.trim()} />
                    </td>
                    <td>
                      <code>{conditionText(g.condition)}</code>
                    </td>
                    <td>
                      {STATE_LABEL[g.state]}
                      {g.partlyDenied && (
                        <div class="partly">
                          PARTLY DENIED: not to <code>{g.deniedPrincipals.join(", ")}</code>
                        </div>
                      )}
                    </td>
                  </tr>
                ))}
                {grants.length === 0 && (
                  <tr>
                    <td colSpan={5} class="muted">
                      Nobody holds it (members denied by a deny rule are not listed).
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </Wide>
          {next && (
            <button type="button" disabled={busy} onClick={() => void ask(next, pages)}>
              Next {PAGE} members
            </button>
          )}
        </>
      )}
    </section>
  );
}

function WhatCan({ schema, ancestor: initial }: { schema: Schema; ancestor: string }) {
  const me = currentIdentity();
  const [principals, setPrincipals] = useState(me?.identities.join(" ") ?? "");
  const [permission, setPermission] = useState("");
  // The deepest type of the hierarchy (projects, by default): what a person most often asks about.
  const [type, setType] = useState(schema.types.filter((t) => t.collection !== "sharedPolicies" && schema.childTypes(t.name).length === 0)[0]?.name ?? "");
  const [ancestor, setAncestor] = useState(initial);
  const [pages, setPages] = useState<LookupResourcesResponse[]>([]);
  const [problem, setProblem] = useState<Problem>();
  const [busy, setBusy] = useState(false);
  const principalError = words(principals).map((m) => canonicalMember(m)).find((r): r is { error: string } => "error" in r)?.error;
  const reset = () => setPages([]);

  async function ask(pageToken: string, previous: LookupResourcesResponse[]) {
    setBusy(true);
    setProblem(undefined);
    try {
      const page = await api.access.lookupResources({
        principals: words(principals),
        permission: permission.trim(),
        resourceType: type,
        ancestor: ancestor.trim(),
        pageSize: PAGE,
        pageToken,
      });
      setPages([...previous, page]);
    } catch (e) {
      setProblem(problemOf(e));
    } finally {
      setBusy(false);
    }
  }
  const found = pages.flatMap((p) => p.resources);
  const next = pages.at(-1)?.nextPageToken;
  return (
    <section aria-labelledby="what-can-title">
      <h2 id="what-can-title">What can a member do a permission on</h2>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          reset();
          void ask("", []);
        }}
      >
        <TextField label="Member and its groups" name="what-principals" value={principals} onInput={(v) => (setPrincipals(v), reset())} error={principalError} />
        <TextField label="Permission" name="what-permission" value={permission} onInput={(v) => (setPermission(v), reset())} list="analyzer-permissions" />
        <div class="field">
          <label for="what-type">Resource type</label>
          <select id="what-type" value={type} onChange={(e) => (setType((e.currentTarget as HTMLSelectElement).value), reset())}>
            {schema.types.map((t) => (
              <option key={t.name} value={t.name}>
                {t.name}
              </option>
            ))}
          </select>
        </div>
        <TextField label="Beneath (ancestor)" name="what-ancestor" value={ancestor} onInput={(v) => (setAncestor(v), reset())} hint="Optional: only resources beneath this one" />
        <button type="submit" class="primary" disabled={busy || principalError !== undefined || !permission.trim()}>
          What can
        </button>
      </form>
      <ErrorBox problem={problem} />
      {pages.length > 0 && (
        <>
          <Wide>
            <table class="what-can">
              <thead>
                <tr>
                  <th scope="col">Resource</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {found.map((r) => (
                  <tr key={r.resource}>
                    <td>
                      <ResourceLink name={r.resource} />
                    </td>
                    <td>{r.state === AccessState.GRANTED ? "GRANTED" : `${STATE_LABEL[r.state]}${r.conditional ? " (only through conditions)" : ""}`}</td>
                  </tr>
                ))}
                {found.length === 0 && !next && (
                  <tr>
                    <td colSpan={2} class="muted">
                      None (only resources whose policy you may read are listed).
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </Wide>
          {next && (
            <button type="button" disabled={busy} onClick={() => void ask(next, pages)}>
              Next {PAGE} resources
            </button>
          )}
        </>
      )}
    </section>
  );
}
