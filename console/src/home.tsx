// The first page: who is signed in and "my resources" — what the caller may see, found with what-can about its own
// principals — so an ordinary user reaches its project without typing a URL. Administrators may create roots here.
import { useEffect, useState } from "preact/hooks";
import type { Resource } from "../../gen/policy/v1/resource_pb.js";
import { myResources } from "./mine.js";
import type { Schema } from "./schema.js";
import { useIdentity } from "./session.js";
import { Wide } from "./ui.js";

export function Home({ schema }: { schema: Schema }) {
  const me = useIdentity();
  const [mine, setMine] = useState<Resource[]>();
  useEffect(() => {
    if (me && me.identities.length > 0) void myResources(schema, me.identities).then(setMine);
  }, [me]);
  return (
    <section aria-labelledby="home-title">
      <h1 id="home-title" tabIndex={-1}>
        My resources
      </h1>
      {me?.unrestricted && (
        <div class="actions">
          {schema.roots.map((t) => (
            <a class="button" href={`#/create/${t.name}`} key={t.name}>
              New {t.name}
            </a>
          ))}
        </div>
      )}
      {!me && <p class="muted">Sign in with a bearer token to see your resources (or, in development mode, use the tree).</p>}
      {me && me.identities.length === 0 && (
        <p class="muted">Development mode: every caller may do everything. Pick a resource in the tree, or find one by name.</p>
      )}
      {me && me.identities.length > 0 && mine === undefined && <p class="muted">loading…</p>}
      {mine && (
        <>
          <p class="muted">
            The resources {me?.principal} may see through its roles ({me?.identities.join(", ")}), as LookupResources finds them (at most 200 of each
            type; only those whose policy you may read).
          </p>
          <Wide>
            <table>
              <caption class="sr-only">Resources you hold a role on</caption>
              <thead>
                <tr>
                  <th scope="col">Resource</th>
                  <th scope="col">Type</th>
                  <th scope="col">Parent</th>
                </tr>
              </thead>
              <tbody>
                {mine.map((r) => (
                  <tr key={r.name}>
                    <td>
                      <a href={`#/${r.name}`}>{r.displayName || r.name}</a> <span class="muted">{r.name}</span>
                    </td>
                    <td>{r.type}</td>
                    <td>{r.parent}</td>
                  </tr>
                ))}
                {mine.length === 0 && (
                  <tr>
                    <td colSpan={3} class="muted">
                      You hold no role whose policy you may read. Ask an owner for access.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </Wide>
        </>
      )}
      <p>
        Pick a resource in the tree (arrow keys move, → opens, Enter selects) or find one by name or display name. A resource's page shows its
        policy (by role or by principal), deny rules, the effective policy with where each binding and rule comes from, a troubleshooter that
        explains CheckAccess, and its audit log.
      </p>
    </section>
  );
}
