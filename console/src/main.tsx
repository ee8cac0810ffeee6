// The console's shell: the bearer token (kept in memory only), the resource tree, and the page the URL's hash names:
//   #/                          overview
//   #/{collection}/{id}[/{tab}] a resource: policy, effective, troubleshoot, audit, details
//   #/create/{type}[/{parent}]  a new resource
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Resource } from "../../gen/policy/v1/resource_pb.js";
import { api, hasToken, setToken } from "./api.js";
import { PolicyEditor } from "./policy.js";
import { AuditLog, EffectivePolicyPage, Troubleshooter } from "./pages.js";
import { problemOf, type Problem } from "./problems.js";
import { CreateResource, ResourceDetails } from "./resource.js";
import { Schema } from "./schema.js";
import { ResourceTree } from "./tree.js";
import { ErrorBox, TextField } from "./ui.js";

const TABS = [
  { id: "policy", label: "Policy" },
  { id: "effective", label: "Effective policy" },
  { id: "troubleshoot", label: "Troubleshoot" },
  { id: "audit", label: "Audit log" },
  { id: "details", label: "Details" },
] as const;
type Tab = (typeof TABS)[number]["id"];

type Route = { page: "home" } | { page: "create"; type: string; parent: string } | { page: "resource"; name: string; tab: Tab };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "create" && parts[1]) return { page: "create", type: parts[1], parent: parts.slice(2).join("/") };
  if (parts.length >= 2) {
    const tab = TABS.find((t) => t.id === parts[2])?.id ?? "policy";
    return { page: "resource", name: `${parts[0]}/${parts[1]}`, tab };
  }
  return { page: "home" };
}

function useRoute(): Route {
  const [route, setRoute] = useState(parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

function TokenBar({ onChange }: { onChange: () => void }) {
  const [value, setValue] = useState("");
  const [using, setUsing] = useState(hasToken());
  return (
    <form
      class="token"
      onSubmit={(e) => {
        e.preventDefault();
        setToken(value);
        setValue("");
        setUsing(hasToken());
        onChange();
      }}
    >
      <TextField label="Bearer token" type="password" value={value} onInput={setValue} placeholder={using ? "a token is in use" : "none (development mode)"} />
      <button type="submit">{value ? "Use token" : using ? "Forget token" : "Use token"}</button>
      <span class="muted" role="status">
        {using ? "Signed in with a token (kept in this tab's memory only)." : "No token."}
      </span>
    </form>
  );
}

function ResourcePage({ schema, name, tab }: { schema: Schema; name: string; tab: Tab }) {
  const [resource, setResource] = useState<Resource>();
  const [problem, setProblem] = useState<Problem>();
  const [version, setVersion] = useState(0);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    setProblem(undefined);
    api.resources.getResource({ name }).then(setResource, (e) => (setResource(undefined), setProblem(problemOf(e))));
  }, [name, version]);
  useEffect(() => {
    document.title = `${name} — Policy console`;
  }, [name]);
  if (problem) return <ErrorBox problem={problem} />;
  if (!resource || resource.name !== name) return <p class="muted">loading…</p>;
  return (
    <article aria-labelledby="resource-title">
      <h1 id="resource-title" ref={heading} tabIndex={-1}>
        {resource.displayName || name} <span class="muted">{resource.type} · {name}</span>
      </h1>
      <nav class="tabs" aria-label="Resource pages">
        {TABS.map((t) => (
          <a key={t.id} href={`#/${name}/${t.id}`} aria-current={t.id === tab ? "page" : undefined}>
            {t.label}
          </a>
        ))}
      </nav>
      {tab === "policy" && <PolicyEditor schema={schema} resource={name} />}
      {tab === "effective" && <EffectivePolicyPage resource={name} />}
      {tab === "troubleshoot" && <Troubleshooter schema={schema} resource={name} />}
      {tab === "audit" && <AuditLog resource={name} />}
      {tab === "details" && <ResourceDetails schema={schema} resource={resource} onChanged={() => setVersion((v) => v + 1)} />}
    </article>
  );
}

function App() {
  const route = useRoute();
  const [schema, setSchema] = useState<Schema>();
  const [problem, setProblem] = useState<string>();
  // A new token may see other resources: remount the tree and the page.
  const [session, setSession] = useState(0);
  useEffect(() => {
    Schema.load().then(setSchema, (e: Error) => setProblem(e.message));
  }, []);
  if (problem) return <p role="alert">{problem}</p>;
  if (!schema) return <p class="muted">loading…</p>;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <a href="#/" class="brand">
          Policy console
        </a>
        <TokenBar onChange={() => setSession((s) => s + 1)} />
      </header>
      <div class="layout" key={session}>
        <ResourceTree schema={schema} selected={route.page === "resource" ? route.name : undefined} />
        <main id="main" tabIndex={-1}>
          {route.page === "home" && <Home />}
          {route.page === "create" && <CreateResource key={`${route.type}/${route.parent}`} schema={schema} type={route.type} parent={route.parent} />}
          {route.page === "resource" && <ResourcePage schema={schema} name={route.name} tab={route.tab} />}
        </main>
      </div>
    </>
  );
}

function Home() {
  return (
    <section>
      <h1>Policy console</h1>
      <p>
        Pick a resource in the tree (arrow keys move, → opens, Enter selects) or find one by name. A resource's page shows its policy, which you
        can edit; the effective policy with where each binding comes from; a troubleshooter that explains CheckAccess; and its audit log.
      </p>
    </section>
  );
}

render(<App />, document.getElementById("app")!);
