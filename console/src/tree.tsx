// The resource tree: organizations -> clouds -> projects, loaded a page of children at a time as nodes are opened,
// drawn as a virtual list (only the rows on screen are in the page, so 10,000 children cost what 30 do), kept current
// by a Watch stream (creates, moves and deletes by anyone show up), and searched by display name on the server.
// A caller who may not list the roots (an ordinary user) sees "my resources" as its roots instead.
// Keyboard as the WAI-ARIA tree pattern: arrows move, open and close; Home/End; Enter opens the resource.
import { Code } from "@connectrpc/connect";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { Resource } from "../../gen/policy/v1/resource_pb.js";
import { ChangeKind, type Change } from "../../gen/policy/v1/watch_service_pb.js";
import { api, getResource } from "./api.js";
import { myResources } from "./mine.js";
import { isCode, problemOf, type Problem } from "./problems.js";
import type { Schema } from "./schema.js";
import { loadIdentity } from "./session.js";
import { ErrorBox, TextField } from "./ui.js";

/** Children fetched per request (the API's largest page). */
export const PAGE_SIZE = 1000;
/** Every row has this height, so the list knows where each one is without measuring. */
const ROW = 28;
/** Rows drawn beyond the visible ones, above and below. */
const OVERSCAN = 12;

interface Node {
  resource?: Resource;
  children?: string[];
  /** Where the next page starts: per root type for the virtual root, else the child listing's token under "". */
  next: Map<string, string>;
  expanded: boolean;
  loading: boolean;
  /** The page load in flight: a second request for the same page waits for it rather than returning early. */
  pending?: Promise<void>;
  problem?: Problem;
}

type Item = { kind: "node" | "more"; name: string; level: number; parent: string; posinset: number; setsize: number };

const ROOT = "";
const treeEvents = new EventTarget();

/** Tells the tree that the children of `parents` changed (a resource was created, moved or deleted here). */
export function invalidateTree(...parents: string[]): void {
  treeEvents.dispatchEvent(new CustomEvent("changed", { detail: parents }));
}

/** Listens for resources the Watch stream saw change (moved, renamed, deleted): a page showing one re-reads it. */
export function onResourceChanged(listener: (name: string) => void): () => void {
  const handler = (e: Event) => listener((e as CustomEvent<string>).detail);
  treeEvents.addEventListener("resource", handler);
  return () => treeEvents.removeEventListener("resource", handler);
}

const itemId = (item: Item) => (item.kind === "more" ? `tree-more-${item.parent}` : `tree-${item.name}`);

export function ResourceTree({ schema, selected }: { schema: Schema; selected?: string }) {
  const nodes = useRef(new Map<string, Node>([[ROOT, { next: new Map(), expanded: true, loading: false }]])).current;
  const [, setVersion] = useState(0);
  const rerender = () => setVersion((v) => v + 1);
  const [focused, setFocused] = useState<string>("");
  const focusOnRender = useRef(false);
  // The focused row as of the last render: a page load that ends later reads it to know where focus is now.
  const focusedNow = useRef("");
  const [query, setQuery] = useState("");
  const [searchMessage, setSearchMessage] = useState<string>();
  const [results, setResults] = useState<Resource[]>();
  const [searchProblem, setSearchProblem] = useState<Problem>();
  const [mine, setMineState] = useState(false);
  // Read by the Watch handler, which outlives renders.
  const mineRef = useRef(false);
  const setMine = (value: boolean) => ((mineRef.current = value), setMineState(value));
  const scroller = useRef<HTMLDivElement>(null);
  const [viewport, setViewport] = useState({ top: 0, height: 600 });

  const isLeaf = (name: string) => {
    const type = schema.typeOf(name);
    return !type || schema.childTypes(type.name).length === 0;
  };
  const node = (name: string, resource?: Resource): Node => {
    let n = nodes.get(name);
    if (!n) nodes.set(name, (n = { resource, next: new Map(), expanded: false, loading: false }));
    else if (resource) n.resource = resource;
    return n;
  };

  /** The roots' first listing, which a path being revealed waits for (it names the roots' resources). */
  const rootsLoaded = useRef<Promise<void> | undefined>(undefined);

  /**
   * Loads the next page of `parent`'s children; with `ahead`, the page after it too (in the background), so that a
   * person walking down a long level rarely waits for the network.
   */
  function loadPage(parent: string, ahead = false): Promise<void> {
    const n = nodes.get(parent)!;
    if (n.pending) return n.pending;
    n.pending = loadNextPage(n, parent, ahead).finally(() => (n.pending = undefined));
    return n.pending;
  }

  async function loadNextPage(n: Node, parent: string, ahead: boolean): Promise<void> {
    n.loading = true;
    n.problem = undefined;
    rerender();
    try {
      const first = n.children === undefined;
      const names = first ? [] : [...n.children!];
      if (parent === ROOT) {
        // Roots are listed type by type; a page continues the first type that has more.
        const types = first ? schema.roots.map((t) => t.name) : [...n.next.keys()];
        const type = types[0];
        if (type !== undefined) {
          const res = await api.resources.listResources({ type, pageSize: PAGE_SIZE, pageToken: n.next.get(type) ?? "" });
          add(names, res.resources);
          n.next.delete(type);
          if (res.nextPageToken) n.next.set(type, res.nextPageToken);
          if (first) for (const t of types.slice(1)) n.next.set(t, "");
        }
      } else {
        const res = await api.resources.listResources({ parent, pageSize: PAGE_SIZE, pageToken: n.next.get("") ?? "" });
        add(names, res.resources);
        n.next.clear();
        if (res.nextPageToken) n.next.set("", res.nextPageToken);
      }
      n.children = names;
      // After this load has settled (n.pending cleared), so that the next page is a load of its own.
      if (ahead && parent !== ROOT && n.next.size > 0) void n.pending?.then(() => loadPage(parent));
    } catch (e) {
      // Only administrators list the roots: everyone else starts from the resources they hold roles on.
      if (parent === ROOT && (isCode(e, Code.PermissionDenied) || isCode(e, Code.Unauthenticated)) && n.children === undefined) {
        await loadMine(e);
      } else n.problem = problemOf(e);
    } finally {
      n.loading = false;
      rerender();
    }
  }

  /** The roots of a caller who may not list them: the resources it may see, without those beneath another of them. */
  async function loadMine(refusal: unknown): Promise<void> {
    const root = nodes.get(ROOT)!;
    const me = await loadIdentity();
    if (!me || me.identities.length === 0) {
      root.problem = problemOf(refusal);
      return;
    }
    setMine(true);
    root.next.clear();
    const found = await myResources(schema, me.identities);
    const names = new Set(found.map((r) => r.name));
    root.children = [];
    add(
      root.children,
      found.filter((r) => !names.has(r.parent)),
    );
  }

  function add(names: string[], resources: Resource[]): void {
    for (const r of resources) {
      node(r.name, r);
      if (!names.includes(r.name)) names.push(r.name);
    }
  }

  async function expand(name: string, expanded = true): Promise<void> {
    const n = nodes.get(name);
    if (!n || isLeaf(name)) return;
    n.expanded = expanded;
    rerender();
    if (expanded && n.children === undefined && !n.loading) await loadPage(name, true);
  }

  /** Opens the path from the root down to `name` (fetching the ancestors one by one), without loading whole levels. */
  async function reveal(name: string): Promise<void> {
    // The roots' listing names the top of the path: no GetResource for it.
    const [, self] = await Promise.all([rootsLoaded.current, getResource(name).catch(() => undefined)]);
    const chain: Resource[] = [];
    for (let at = name; at; ) {
      const known = nodes.get(at)?.resource ?? (at === name ? self : undefined);
      let r: Resource;
      try {
        r = known ?? (await getResource(at));
      } catch {
        break; // An ancestor the caller may not see: the path starts below it.
      }
      chain.unshift(r);
      at = r.parent;
    }
    let parent = ROOT;
    const rootChildren = nodes.get(ROOT)!.children;
    // In "my resources" the path starts at the first resource of the chain that is a root of the tree.
    const start = mineRef.current ? Math.max(0, chain.findIndex((r) => rootChildren?.includes(r.name))) : 0;
    for (const r of chain.slice(start)) {
      const p = nodes.get(parent)!;
      if (p.children === undefined && !p.loading) await loadPage(parent);
      node(r.name, r);
      // Beyond the loaded page: show it anyway, where it belongs.
      if (p.children && !p.children.includes(r.name)) insertSorted(p.children, r.name);
      p.expanded = true;
      parent = r.name;
    }
    rerender();
  }

  /** Follows every change to the hierarchy: a resource created, moved, renamed or deleted, by anyone. */
  async function apply(change: Change): Promise<void> {
    const name = change.resource;
    const parentOf = (p: string) => nodes.get(p || ROOT);
    const detach = (from: string) => {
      const p = parentOf(from);
      if (p?.children) p.children = p.children.filter((c) => c !== name);
    };
    const attach = async (to: string) => {
      const p = parentOf(to);
      if (!p?.children) return; // not loaded: it will be listed when opened
      const last = p.children.at(-1);
      // Within the loaded range (or the whole level is loaded): where it sorts.
      if (p.next.size === 0 || (last !== undefined && name < last)) {
        const r = await api.resources.getResource({ name }).catch(() => undefined);
        // The level may have been re-read meanwhile (a local write): it lists the resource itself then.
        if (!r || !p.children) return;
        node(name, r);
        if (!p.children.includes(name)) insertSorted(p.children, name);
      }
    };
    switch (change.kind) {
      case ChangeKind.RESOURCE_CREATED:
        if (!mineRef.current || change.parent) await attach(change.parent);
        break;
      case ChangeKind.RESOURCE_MOVED:
        detach(change.previousParent);
        await attach(change.parent);
        break;
      case ChangeKind.RESOURCE_DELETED:
        detach(change.parent);
        nodes.delete(name);
        break;
      case ChangeKind.RESOURCE_UPDATED: {
        const r = await api.resources.getResource({ name }).catch(() => undefined);
        if (r && nodes.has(name)) node(name, r);
        break;
      }
      default:
        return;
    }
    treeEvents.dispatchEvent(new CustomEvent("resource", { detail: name }));
    rerender();
  }

  useEffect(() => {
    rootsLoaded.current = loadPage(ROOT);
    const onChanged = (e: Event) => {
      for (const parent of (e as CustomEvent<string[]>).detail) {
        const n = nodes.get(parent || ROOT);
        if (n && n.children !== undefined && !(parent === "" && mineRef.current)) {
          n.children = undefined;
          n.next.clear();
          void loadPage(parent || ROOT);
        }
      }
    };
    treeEvents.addEventListener("changed", onChanged);
    const stop = follow((c) => void apply(c));
    return () => {
      treeEvents.removeEventListener("changed", onChanged);
      stop();
    };
  }, []);

  useEffect(() => {
    if (!selected) return;
    setFocused(`tree-${selected}`);
    reveal(selected).catch(() => undefined);
  }, [selected]);

  // The scroller's size, for the rows to draw.
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setViewport({ top: el.scrollTop, height: el.clientHeight || 600 });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  function visible(): Item[] {
    const items: Item[] = [];
    const walk = (parent: string, level: number) => {
      const n = nodes.get(parent)!;
      const children = n.children ?? [];
      const setsize = children.length + (n.next.size > 0 ? 1 : 0);
      children.forEach((name, i) => {
        items.push({ kind: "node", name, level, parent, posinset: i + 1, setsize });
        if (nodes.get(name)?.expanded) walk(name, level + 1);
      });
      if (n.next.size > 0) items.push({ kind: "more", name: parent, level, parent, posinset: setsize, setsize });
    };
    walk(ROOT, 1);
    return items;
  }

  const items = visible();
  const focusedIndex = Math.max(
    0,
    items.findIndex((i) => itemId(i) === focused),
  );
  const focusedId = items[focusedIndex] && itemId(items[focusedIndex]);
  focusedNow.current = focused;
  const first = Math.max(0, Math.floor(viewport.top / ROW) - OVERSCAN);
  const last = Math.min(items.length, Math.ceil((viewport.top + viewport.height) / ROW) + OVERSCAN);
  const drawn = items.slice(first, last).map((item, i) => ({ item, index: first + i }));
  // The focused row is always in the page, so that focus is never lost to <body>.
  if (items[focusedIndex] && (focusedIndex < first || focusedIndex >= last)) drawn.push({ item: items[focusedIndex], index: focusedIndex });

  // Right after the DOM is updated, so that the next key press finds focus where it belongs.
  useLayoutEffect(() => {
    if (focusOnRender.current && focusedId) document.getElementById(focusedId)?.focus({ preventScroll: true });
    focusOnRender.current = false;
  });

  // A "load more" row that scrolls into view loads the next page by itself.
  useEffect(() => {
    for (const { item } of drawn) {
      if (item.kind === "more" && item.parent !== ROOT) {
        const n = nodes.get(item.parent);
        // Also while a page is loading: loadMore then waits for it, and moves focus on if the row had it.
        if (n && !n.problem) void loadMore(item);
      }
    }
  });

  function moveFocus(index: number) {
    const item = items[Math.max(0, Math.min(items.length - 1, index))];
    if (!item) return;
    const at = items.indexOf(item);
    const el = scroller.current;
    if (el) {
      // Keep the focused row on screen.
      if (at * ROW < el.scrollTop) el.scrollTop = at * ROW;
      else if ((at + 1) * ROW > el.scrollTop + el.clientHeight) el.scrollTop = (at + 1) * ROW - el.clientHeight;
      setViewport({ top: el.scrollTop, height: el.clientHeight || viewport.height });
    }
    focusOnRender.current = true;
    setFocused(itemId(item));
  }

  /** Loads the page a "more" row stands for; focus on that row moves to the first child it loaded (the row goes). */
  async function loadMore(item: Item): Promise<void> {
    const before = nodes.get(item.parent)?.children?.length ?? 0;
    await loadPage(item.parent, true);
    const first = nodes.get(item.parent)?.children?.[before];
    // Focus may have reached the row while its page was loading (End pressed as it scrolled into view).
    if (focusedNow.current === itemId(item) && first) {
      focusOnRender.current = true;
      setFocused(`tree-${first}`);
    }
  }

  function activate(item: Item) {
    if (item.kind === "more") void loadMore(item);
    else location.hash = `#/${item.name}`;
  }

  function onKeyDown(e: KeyboardEvent) {
    const item = items[focusedIndex];
    if (!item) return;
    const n = item.kind === "node" ? nodes.get(item.name) : undefined;
    const handled = () => (e.preventDefault(), e.stopPropagation());
    switch (e.key) {
      case "ArrowDown":
        handled();
        return moveFocus(focusedIndex + 1);
      case "ArrowUp":
        handled();
        return moveFocus(focusedIndex - 1);
      case "Home":
        handled();
        return moveFocus(0);
      case "End":
        handled();
        return moveFocus(items.length - 1);
      case "PageDown":
        handled();
        return moveFocus(focusedIndex + Math.floor(viewport.height / ROW));
      case "PageUp":
        handled();
        return moveFocus(focusedIndex - Math.floor(viewport.height / ROW));
      case "ArrowRight":
        handled();
        if (item.kind !== "node" || isLeaf(item.name)) return;
        if (!n!.expanded) return void expand(item.name);
        return items[focusedIndex + 1]?.parent === item.name ? moveFocus(focusedIndex + 1) : undefined;
      case "ArrowLeft": {
        handled();
        if (n?.expanded) return void expand(item.name, false);
        const parentIndex = items.findIndex((i) => i.kind === "node" && i.name === item.parent);
        return parentIndex >= 0 ? moveFocus(parentIndex) : undefined;
      }
      case "Enter":
      case " ":
        handled();
        return activate(item);
    }
  }

  async function find(e: Event) {
    e.preventDefault();
    const q = query.trim();
    setSearchMessage(undefined);
    setSearchProblem(undefined);
    setResults(undefined);
    if (!q) return;
    // A name is looked up directly; a bare id is tried in every collection (one call each, whatever the tree's size).
    const candidates = q.includes("/") ? [q] : schema.types.map((t) => `${t.collection}/${q}`);
    const found = await Promise.all(candidates.map((name) => api.resources.getResource({ name }).catch((err: unknown) => err)));
    const hit = found.find((r): r is Resource => !(r instanceof Error));
    if (hit) return open(hit, `Found ${hit.name}`);
    if (q.includes("/")) return setSearchProblem(problemOf(found[0]));
    // Else by display name, on the server: across everything (administrators), or beneath what this caller sees.
    try {
      const matches = await searchByName(q);
      if (matches.length === 1) return open(matches[0]!, `Found by display name: ${matches[0]!.name}`);
      setResults(matches);
      setSearchMessage(matches.length === 0 ? `No resource named "${q}"` : `${matches.length} resources match "${q}"`);
    } catch (err) {
      setSearchProblem(problemOf(err));
    }
  }

  async function searchByName(q: string): Promise<Resource[]> {
    try {
      return (await api.resources.listResources({ filter: q, pageSize: 50 })).resources;
    } catch (e) {
      if (!isCode(e, Code.PermissionDenied)) throw e;
    }
    // Not an administrator: the children of every resource the tree shows, filtered on the server.
    const parents = [...nodes.entries()].filter(([name, n]) => name !== ROOT && n.resource && !isLeaf(name)).map(([name]) => name);
    const pages = await Promise.all(
      parents.slice(0, 50).map((parent) => api.resources.listResources({ parent, filter: q, pageSize: 50 }).catch(() => undefined)),
    );
    const lower = q.toLowerCase();
    const own = [...nodes.values()].flatMap((n) => (n.resource && n.resource.displayName.toLowerCase().includes(lower) ? [n.resource] : []));
    const all = new Map([...own, ...pages.flatMap((p) => p?.resources ?? [])].map((r) => [r.name, r]));
    return [...all.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async function open(r: Resource, message: string) {
    await reveal(r.name);
    location.hash = `#/${r.name}`;
    setSearchMessage(message);
  }

  const root = nodes.get(ROOT)!;
  return (
    <nav class="tree-panel" aria-label="Resources">
      <form class="search" onSubmit={find} role="search">
        <TextField label="Find a resource" value={query} onInput={setQuery} placeholder="projects/p1, an id, or a display name" />
        <button type="submit">Find</button>
      </form>
      {searchMessage && (
        <p class="muted" role="status">
          {searchMessage}
        </p>
      )}
      {results && results.length > 0 && (
        <ul class="results" aria-label="Search results">
          {results.map((r) => (
            <li key={r.name}>
              <a href={`#/${r.name}`} onClick={() => void reveal(r.name)}>
                {r.displayName || r.name} <span class="muted">{r.name}</span>
              </a>
            </li>
          ))}
        </ul>
      )}
      <ErrorBox problem={searchProblem} />
      {mine && <p class="muted">Your resources: those you hold a role on (you may not list everything).</p>}
      <ErrorBox problem={root.problem} onRetry={() => void loadPage(ROOT)} />
      {root.children?.length === 0 && <p class="muted">{mine ? "You hold no role on any resource yet." : "No resources yet."}</p>}
      <div
        class="tree-scroll"
        ref={scroller}
        onScroll={(e) => {
          const el = e.currentTarget as HTMLDivElement;
          setViewport({ top: el.scrollTop, height: el.clientHeight || viewport.height });
        }}
      >
        <ul role="tree" aria-label="Resource hierarchy" class="tree" onKeyDown={onKeyDown} style={{ height: `${items.length * ROW}px` }}>
          {drawn.map(({ item, index }) => (
            <Row
              key={itemId(item)}
              item={item}
              top={index * ROW}
              node={item.kind === "node" ? nodes.get(item.name) : nodes.get(item.parent)}
              leaf={item.kind === "node" && isLeaf(item.name)}
              selected={item.kind === "node" && selected === item.name}
              tabbable={itemId(item) === focusedId}
              onActivate={() => {
                setFocused(itemId(item));
                activate(item);
              }}
              onToggle={() => void expand(item.name, !nodes.get(item.name)?.expanded)}
            />
          ))}
        </ul>
      </div>
    </nav>
  );
}

function Row(p: { item: Item; top: number; node?: Node; leaf: boolean; selected: boolean; tabbable: boolean; onActivate: () => void; onToggle: () => void }) {
  const { item, node } = p;
  const id = itemId(item);
  const indent = { paddingLeft: `${(item.level - 1) * 1.1}rem` };
  const common = {
    id,
    role: "treeitem" as const,
    "aria-level": item.level,
    "aria-setsize": item.setsize,
    "aria-posinset": item.posinset,
    tabIndex: p.tabbable ? 0 : -1,
    style: { top: `${p.top}px`, height: `${ROW}px` },
    onClick: (e: MouseEvent) => {
      e.stopPropagation();
      p.onActivate();
    },
  };
  if (item.kind === "more") {
    return (
      <li {...common} class="more">
        <span class="tree-row" style={indent}>
          <span class="twisty" aria-hidden="true" />
          {node?.loading ? "loading…" : `Load more (${node?.children?.length ?? 0} loaded)`}
        </span>
      </li>
    );
  }
  const r = node?.resource;
  const label = r?.displayName || item.name.split("/")[1];
  return (
    <li
      {...common}
      aria-expanded={p.leaf ? undefined : node?.expanded}
      aria-selected={p.selected}
      aria-labelledby={`${id}-label`}
      aria-busy={node?.loading || undefined}
      title={`${label} — ${item.name}`}
    >
      <span class="tree-row" style={indent}>
        <span
          class="twisty"
          aria-hidden="true"
          onClick={(e) => {
            e.stopPropagation();
            p.onToggle();
          }}
        >
          {p.leaf ? "·" : node?.expanded ? "▾" : "▸"}
        </span>
        <span id={`${id}-label`} class="tree-label">
          {label} <span class="muted">{item.name}</span>
        </span>
        {node?.expanded && node.loading && node.children === undefined && <span class="muted"> loading…</span>}
        {node?.expanded && node.children?.length === 0 && <span class="muted"> (no children)</span>}
        {node?.problem && (
          <span class="tree-problem" role="alert">
            {" "}
            {node.problem.message}
          </span>
        )}
      </span>
    </li>
  );
}

function insertSorted(list: string[], name: string): void {
  let i = list.length;
  while (i > 0 && list[i - 1]! > name) i--;
  list.splice(i, 0, name);
}

/** Follows Watch (from now on), resuming after the last sequence seen when the stream breaks; returns a stop. */
function follow(onChange: (change: Change) => void): () => void {
  const abort = new AbortController();
  void (async () => {
    let after: bigint | undefined;
    for (let failures = 0; !abort.signal.aborted; ) {
      try {
        const stream = api.watch.watch(
          {
            afterSequence: after,
            kinds: [ChangeKind.RESOURCE_CREATED, ChangeKind.RESOURCE_MOVED, ChangeKind.RESOURCE_DELETED, ChangeKind.RESOURCE_UPDATED],
          },
          { signal: abort.signal },
        );
        for await (const res of stream) {
          failures = 0;
          if (res.event.case === "change") {
            after = res.event.value.sequence;
            onChange(res.event.value);
          } else if (res.event.case === "progress") after = res.event.value.sequence;
        }
      } catch (e) {
        if (abort.signal.aborted) return;
        // Older than the retained log: start again from now (the tree re-reads what it opens).
        if (isCode(e, Code.OutOfRange)) after = undefined;
        failures++;
      }
      // Back off before reconnecting (a server restarting, a token without access): 1 s, 2 s, … up to 30 s.
      await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 1000 * 2 ** Math.min(failures, 5))));
    }
  })();
  return () => abort.abort();
}
