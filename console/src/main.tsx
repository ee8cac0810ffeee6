// The console's shell: who is signed in (the bearer token is kept in memory only), the resource tree, and the page the
// URL's hash names:
//   #/                          my resources
//   #/{collection}/{id}[/{tab}] a resource: policy, deny, effective, troubleshoot, audit, details (+ roles, shared
//                               for organizations; content for shared policies)
//   #/create/{type}[/{parent}]  a new resource
//   #/analyzer[?resource]       the policy analyzer (who can, what can)
//   #/consumers                 sync consumers
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Resource } from "../../gen/policy/v1/resource_pb.js";
import { Analyzer } from "./analyzer.js";
import { getResource, hasToken, setToken } from "./api.js";
import { AuditLog } from "./audit.js";
import { Consumers } from "./consumers.js";
import { DenyPolicyEditor } from "./deny.js";
import { EffectivePolicyPage } from "./effective.js";
import { Home } from "./home.js";
import { PolicyEditor } from "./policy.js";
import { problemOf, type Problem } from "./problems.js";
import { CreateResource, ResourceDetails } from "./resource.js";
import { CustomRoles } from "./roles.js";
import { Schema } from "./schema.js";
import { confirmDiscard, forgetIdentity, hasUnsaved, loadIdentity, useIdentity } from "./session.js";
import { SharedPolicies, SharedPolicyContent } from "./shared.js";
import { onResourceChanged, ResourceTree } from "./tree.js";
import { Troubleshooter } from "./troubleshoot.js";
import { ErrorBox, TextField } from "./ui.js";

const TABS = [
  { id: "policy", label: "Policy" },
  { id: "content", label: "Bindings and rules", only: "shared" },
  { id: "deny", label: "Deny rules", not: "shared" },
  { id: "effective", label: "Effective policy" },
  { id: "troubleshoot", label: "Troubleshoot" },
  { id: "audit", label: "Audit log" },
  { id: "roles", label: "Custom roles", only: "root" },
  { id: "shared", label: "Shared policies", only: "root" },
  { id: "details", label: "Details" },
] as const;
type Tab = (typeof TABS)[number]["id"];

type Route =
  | { page: "home" }
  | { page: "analyzer"; resource: string }
  | { page: "consumers" }
  | { page: "create"; type: string; parent: string }
  | { page: "resource"; name: string; tab: Tab };

export function parseRoute(hash: string): Route {
  const [path, query = ""] = hash.replace(/^#\/?/, "").split("?");
  const parts = path!.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "analyzer") return { page: "analyzer", resource: new URLSearchParams(query).get("resource") ?? "" };
  if (parts[0] === "consumers") return { page: "consumers" };
  if (parts[0] === "create" && parts[1]) return { page: "create", type: parts[1], parent: parts.slice(2).join("/") };
  if (parts.length >= 2) {
    const tab = TABS.find((t) => t.id === parts[2])?.id ?? "policy";
    return { page: "resource", name: `${parts[0]}/${parts[1]}`, tab };
  }
  return { page: "home" };
}

/** The route of the URL's hash; a change that would drop unsaved edits is confirmed first (or undone). */
function useRoute(): Route {
  const [route, setRoute] = useState(parseRoute(location.hash));
  useEffect(() => {
    let current = location.hash;
    const onChange = () => {
      if (location.hash === current) return;
      if (!confirmDiscard("Leaving this page")) {
        history.replaceState(null, "", current || "#/");
        return;
      }
      current = location.hash;
      setRoute(parseRoute(location.hash));
    };
    const beforeUnload = (e: BeforeUnloadEvent) => {
      if (hasUnsaved()) e.preventDefault();
    };
    addEventListener("hashchange", onChange);
    addEventListener("beforeunload", beforeUnload);
    return () => {
      removeEventListener("hashchange", onChange);
      removeEventListener("beforeunload", beforeUnload);
    };
  }, []);
  return route;
}

function TokenBar({ onChange }: { onChange: () => void }) {
  const [value, setValue] = useState("");
  const [using, setUsing] = useState(hasToken());
  const me = useIdentity();
  return (
    <form
      class="token"
      onSubmit={(e) => {
        e.preventDefault();
        if (!confirmDiscard(value ? "Changing the token" : "Forgetting the token")) return;
        setToken(value);
        setValue("");
        setUsing(hasToken());
        forgetIdentity();
        onChange();
      }}
    >
      <TextField label="Bearer token" type="password" value={value} onInput={setValue} placeholder={using ? "a token is in use" : "none (development mode)"} />
      <button type="submit">{value ? "Use token" : using ? "Forget token" : "Use token"}</button>
      <span class="identity" role="status" aria-label="Signed in as">
        {me ? (
          <>
            Signed in as <strong>{me.principal}</strong>
            {me.unrestricted && <span class="badge">{using ? "administrator" : "development mode: no authentication"}</span>}
          </>
        ) : using ? (
          "Token not accepted."
        ) : (
          "Not signed in."
        )}
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
    getResource(name).then(setResource, (e) => (setResource(undefined), setProblem(problemOf(e))));
  }, [name, version]);
  // Moved, renamed or deleted by someone else (the tree's Watch stream saw it): read it again.
  useEffect(() => onResourceChanged((changed) => changed === name && setVersion((v) => v + 1)), [name]);
  useEffect(() => {
    document.title = `${name} — Policy console`;
  }, [name]);
  if (problem) return <ErrorBox problem={problem} onRetry={() => setVersion((v) => v + 1)} />;
  if (!resource || resource.name !== name) return <p class="muted">loading…</p>;
  const type = schema.typeOf(name);
  const isRoot = (type?.parents.length ?? 0) === 0;
  const isShared = name.startsWith("sharedPolicies/");
  const tabs = TABS.filter((t) => {
    const only = "only" in t ? t.only : undefined;
    const not = "not" in t ? t.not : undefined;
    if (only === "root" && !isRoot) return false;
    if (only === "shared" && !isShared) return false;
    return !(not === "shared" && isShared);
  });
  return (
    <article aria-labelledby="resource-title">
      <h1 id="resource-title" ref={heading} tabIndex={-1}>
        <span class="title">{resource.displayName || name}</span> <span class="muted">{resource.type} · {name}</span>
      </h1>
      <nav class="tabs" aria-label="Resource pages">
        {tabs.map((t) => (
          <a key={t.id} href={`#/${name}/${t.id}`} aria-current={t.id === tab ? "page" : undefined}>
            {t.label}
          </a>
        ))}
        <a href={`#/analyzer?resource=${encodeURIComponent(name)}`}>Analyze access</a>
      </nav>
      {tab === "policy" && <PolicyEditor schema={schema} resource={name} />}
      {tab === "content" && isShared && <SharedPolicyContent schema={schema} name={name} />}
      {tab === "deny" && <DenyPolicyEditor schema={schema} resource={name} />}
      {tab === "effective" && <EffectivePolicyPage resource={name} />}
      {tab === "troubleshoot" && <Troubleshooter schema={schema} resource={name} />}
      {tab === "audit" && <AuditLog resource={name} isRoot={isRoot} />}
      {tab === "roles" && <CustomRoles schema={schema} organization={name} />}
      {tab === "shared" && <SharedPolicies organization={name} />}
      {tab === "details" && <ResourceDetails schema={schema} resource={resource} onChanged={() => setVersion((v) => v + 1)} />}
    </article>
  );
}

function App() {
  const route = useRoute();
  const [schema, setSchema] = useState<Schema>();
  const [problem, setProblem] = useState<string>();
  const [attempt, setAttempt] = useState(0);
  // A new token may see other resources: remount the tree and the page.
  const [session, setSession] = useState(0);
  const [treeOpen, setTreeOpen] = useState(false);
  useEffect(() => {
    setProblem(undefined);
    Schema.load().then(setSchema, () => setProblem("The policy server cannot be reached: it may be down or restarting."));
  }, [attempt]);
  // On a phone the tree is a panel that opens on demand; it closes when a resource is picked.
  useEffect(() => setTreeOpen(false), [route]);
  if (problem) {
    return (
      <div class="error" role="alert">
        {problem}{" "}
        <button type="button" onClick={() => setAttempt((a) => a + 1)}>
          Retry
        </button>
      </div>
    );
  }
  if (!schema) return <p class="muted">loading…</p>;
  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          // The content, not the home page: a hash of "#main" would be read as a route.
          e.preventDefault();
          document.getElementById("main")?.focus();
        }}
      >
        Skip to content
      </a>
      <header>
        <a href="#/" class="brand">
          Policy console
        </a>
        <nav class="global" aria-label="Console pages">
          <a href="#/">My resources</a>
          <a href="#/analyzer">Policy analyzer</a>
          <a href="#/consumers">Sync consumers</a>
        </nav>
        <TokenBar key={session} onChange={() => setSession((s) => s + 1)} />
      </header>
      <div class={`layout${treeOpen ? " tree-open" : ""}`} key={session}>
        <button type="button" class="tree-toggle" aria-expanded={treeOpen} onClick={() => setTreeOpen(!treeOpen)}>
          {treeOpen ? "Hide resources" : "Resources"}
        </button>
        <ResourceTree schema={schema} selected={route.page === "resource" ? route.name : undefined} />
        <main id="main" tabIndex={-1}>
          {route.page === "home" && <Home schema={schema} />}
          {route.page === "analyzer" && <Analyzer schema={schema} resource={route.resource} />}
          {route.page === "consumers" && <Consumers schema={schema} />}
          {route.page === "create" && <CreateResource key={`${route.type}/${route.parent}`} schema={schema} type={route.type} parent={route.parent} />}
          {route.page === "resource" && <ResourcePage schema={schema} name={route.name} tab={route.tab} />}
        </main>
      </div>
    </>
  );
}

// Who is signed in is asked at once, beside the schema, not after it.
void loadIdentity();
render(<App />, document.getElementById("app")!);
