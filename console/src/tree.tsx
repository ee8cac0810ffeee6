// The resource tree: organizations -> clouds -> projects, loaded one page of children at a time as nodes are expanded,
// so that 100k resources cost only what is on screen. Keyboard as the WAI-ARIA tree pattern: arrows move, open and
// close; Home/End; Enter opens the resource.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { Resource } from "../../gen/policy/v1/resource_pb.js";
import { api } from "./api.js";
import { problemOf, type Problem } from "./problems.js";
import type { Schema } from "./schema.js";
import { ErrorBox, TextField } from "./ui.js";

/** Children fetched per request: a page, not the whole level. */
export const PAGE_SIZE = 100;

interface Node {
  resource?: Resource;
  children?: string[];
  /** Where the next page starts: per root type for the virtual root, else the child listing's token. */
  next: Map<string, string>;
  expanded: boolean;
  loading: boolean;
  problem?: Problem;
}

type Item = { kind: "node"; name: string; level: number; parent: string } | { kind: "more"; name: string; level: number; parent: string };

const ROOT = "";
const treeEvents = new EventTarget();

/** Tells the tree that the children of `parents` changed (a resource was created, moved or deleted). */
export function invalidateTree(...parents: string[]): void {
  treeEvents.dispatchEvent(new CustomEvent("changed", { detail: parents }));
}

const itemId = (item: Item) => (item.kind === "more" ? `tree-more-${item.parent}` : `tree-${item.name}`);

export function ResourceTree({ schema, selected }: { schema: Schema; selected?: string }) {
  const nodes = useRef(new Map<string, Node>([[ROOT, { next: new Map(), expanded: true, loading: false }]])).current;
  const [, setVersion] = useState(0);
  const rerender = () => setVersion((v) => v + 1);
  const [focused, setFocused] = useState<string>("");
  const focusOnRender = useRef(false);
  const [query, setQuery] = useState("");
  const [searchMessage, setSearchMessage] = useState<string>();
  const [searchProblem, setSearchProblem] = useState<Problem>();

  const isLeaf = (name: string) => {
    const type = schema.typeOf(name);
    return !type || schema.childTypes(type.name).length === 0;
  };

  async function loadPage(parent: string): Promise<void> {
    const node = nodes.get(parent)!;
    node.loading = true;
    node.problem = undefined;
    rerender();
    try {
      const first = node.children === undefined;
      const names = first ? [] : [...node.children!];
      if (parent === ROOT) {
        // Roots are listed type by type; a page continues the first type that has more.
        const types = first ? schema.roots.map((t) => t.name) : [...node.next.keys()];
        const type = types[0];
        if (type !== undefined) {
          const res = await api.resources.listResources({ type, pageSize: PAGE_SIZE, pageToken: node.next.get(type) ?? "" });
          add(names, res.resources);
          node.next.delete(type);
          if (res.nextPageToken) node.next.set(type, res.nextPageToken);
          if (first) for (const t of types.slice(1)) node.next.set(t, "");
        }
      } else {
        const res = await api.resources.listResources({ parent, pageSize: PAGE_SIZE, pageToken: node.next.get("") ?? "" });
        add(names, res.resources);
        node.next.clear();
        if (res.nextPageToken) node.next.set("", res.nextPageToken);
      }
      node.children = names;
    } catch (e) {
      node.problem = problemOf(e);
    } finally {
      node.loading = false;
      rerender();
    }
  }

  function add(names: string[], resources: Resource[]): void {
    for (const r of resources) {
      const existing = nodes.get(r.name);
      if (existing) existing.resource = r;
      else nodes.set(r.name, { resource: r, next: new Map(), expanded: false, loading: false });
      if (!names.includes(r.name)) names.push(r.name);
    }
  }

  async function expand(name: string, expanded = true): Promise<void> {
    const node = nodes.get(name);
    if (!node || isLeaf(name)) return;
    node.expanded = expanded;
    rerender();
    if (expanded && node.children === undefined && !node.loading) await loadPage(name);
  }

  /** Opens the path from the root down to `name` (fetching the ancestors one by one), without loading whole levels. */
  async function reveal(name: string): Promise<void> {
    const chain: Resource[] = [];
    for (let at = name; at; ) {
      const r = nodes.get(at)?.resource ?? (await api.resources.getResource({ name: at }));
      chain.unshift(r);
      at = r.parent;
    }
    let parent = ROOT;
    for (const r of chain) {
      const p = nodes.get(parent)!;
      if (p.children === undefined && !p.loading) await loadPage(parent);
      if (!nodes.has(r.name)) nodes.set(r.name, { resource: r, next: new Map(), expanded: false, loading: false });
      // Beyond the loaded page: show it anyway, where it belongs.
      if (p.children && !p.children.includes(r.name)) p.children.push(r.name);
      p.expanded = true;
      parent = r.name;
    }
    rerender();
  }

  useEffect(() => {
    void loadPage(ROOT);
    const onChanged = (e: Event) => {
      for (const parent of (e as CustomEvent<string[]>).detail) {
        const node = nodes.get(parent);
        if (node && node.children !== undefined) {
          node.children = undefined;
          node.next.clear();
          void loadPage(parent);
        }
      }
    };
    treeEvents.addEventListener("changed", onChanged);
    return () => treeEvents.removeEventListener("changed", onChanged);
  }, []);

  useEffect(() => {
    if (!selected) return;
    setFocused(`tree-${selected}`);
    reveal(selected).catch(() => undefined);
  }, [selected]);

  function visible(): Item[] {
    const items: Item[] = [];
    const walk = (parent: string, level: number) => {
      const node = nodes.get(parent)!;
      for (const name of node.children ?? []) {
        items.push({ kind: "node", name, level, parent });
        if (nodes.get(name)?.expanded) walk(name, level + 1);
      }
      if (node.next.size > 0) items.push({ kind: "more", name: parent, level, parent });
    };
    walk(ROOT, 1);
    return items;
  }

  const items = visible();
  const focusedId = items.some((i) => itemId(i) === focused) ? focused : items[0] && itemId(items[0]);

  // Right after the DOM is updated, so that the next key press finds focus where it belongs.
  useLayoutEffect(() => {
    if (focusOnRender.current && focusedId) document.getElementById(focusedId)?.focus();
    focusOnRender.current = false;
  });

  function moveFocus(item: Item | undefined) {
    if (!item) return;
    focusOnRender.current = true;
    setFocused(itemId(item));
  }

  function activate(item: Item) {
    if (item.kind === "more") {
      moveFocus(item);
      // The "more" item goes away with the last page: focus moves to the first item loaded.
      const before = nodes.get(item.parent)?.children?.length ?? 0;
      void loadPage(item.parent).then(() => {
        const first = nodes.get(item.parent)?.children?.[before];
        if (first) moveFocus({ kind: "node", name: first, level: item.level, parent: item.parent });
      });
    } else location.hash = `#/${item.name}`;
  }

  function onKeyDown(e: KeyboardEvent) {
    const index = items.findIndex((i) => itemId(i) === focusedId);
    const item = items[index];
    if (!item) return;
    const node = item.kind === "node" ? nodes.get(item.name) : undefined;
    const handled = () => (e.preventDefault(), e.stopPropagation());
    switch (e.key) {
      case "ArrowDown":
        handled();
        return moveFocus(items[index + 1]);
      case "ArrowUp":
        handled();
        return moveFocus(items[index - 1]);
      case "Home":
        handled();
        return moveFocus(items[0]);
      case "End":
        handled();
        return moveFocus(items[items.length - 1]);
      case "ArrowRight":
        handled();
        if (item.kind !== "node" || isLeaf(item.name)) return;
        if (!node!.expanded) return void expand(item.name);
        return moveFocus(items[index + 1]?.parent === item.name ? items[index + 1] : undefined);
      case "ArrowLeft":
        handled();
        if (node?.expanded) return void expand(item.name, false);
        return moveFocus(items.find((i) => i.kind === "node" && i.name === item.parent));
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
    if (!q) return;
    // A name is looked up directly; a bare id is tried in every collection (one call each, whatever the tree's size).
    const candidates = q.includes("/") ? [q] : schema.types.map((t) => `${t.collection}/${q}`);
    const found = await Promise.all(candidates.map((name) => api.resources.getResource({ name }).catch((err: unknown) => err)));
    const hit = found.find((r): r is Resource => !(r instanceof Error));
    if (hit) {
      await reveal(hit.name);
      location.hash = `#/${hit.name}`;
      setSearchMessage(`Found ${hit.name}`);
      return;
    }
    // Else, among what is loaded: the display names.
    const lower = q.toLowerCase();
    const loaded = [...nodes.values()].filter((n) => n.resource && n.resource.displayName.toLowerCase().includes(lower)).slice(0, 10);
    if (loaded.length > 0) {
      await reveal(loaded[0]!.resource!.name);
      location.hash = `#/${loaded[0]!.resource!.name}`;
      setSearchMessage(`Found by display name: ${loaded.map((n) => n.resource!.name).join(", ")}`);
    } else if (q.includes("/") && found[0] instanceof Error) setSearchProblem(problemOf(found[0]));
    else setSearchMessage(`No resource named "${q}"`);
  }

  function renderLevel(parent: string, level: number) {
    const node = nodes.get(parent)!;
    return (
      <>
        {(node.children ?? []).map((name) => {
          const child = nodes.get(name)!;
          const leaf = isLeaf(name);
          const item: Item = { kind: "node", name, level, parent };
          const id = itemId(item);
          const r = child.resource;
          return (
            <li
              key={name}
              id={id}
              role="treeitem"
              aria-level={level}
              aria-expanded={leaf ? undefined : child.expanded}
              aria-selected={selected === name}
              aria-labelledby={`${id}-label`}
              aria-busy={child.loading || undefined}
              tabIndex={id === focusedId ? 0 : -1}
              onClick={(e) => {
                e.stopPropagation();
                setFocused(id);
                activate(item);
              }}
            >
              <span class="tree-row" style={{ paddingLeft: `${(level - 1) * 1.1}rem` }}>
                <span
                  class="twisty"
                  aria-hidden="true"
                  onClick={(e) => {
                    e.stopPropagation();
                    void expand(name, !child.expanded);
                  }}
                >
                  {leaf ? "·" : child.expanded ? "▾" : "▸"}
                </span>
                <span id={`${id}-label`}>
                  {r?.displayName || name.split("/")[1]} <span class="muted">{name}</span>
                </span>
              </span>
              {child.expanded && (
                <ul role="group">
                  {child.loading && child.children === undefined && <li role="none" class="muted" style={{ paddingLeft: `${level * 1.1 + 1}rem` }}>loading…</li>}
                  {child.problem && <li role="none"><ErrorBox problem={child.problem} /></li>}
                  {child.children?.length === 0 && <li role="none" class="muted" style={{ paddingLeft: `${level * 1.1 + 1}rem` }}>no children</li>}
                  {renderLevel(name, level + 1)}
                </ul>
              )}
            </li>
          );
        })}
        {node.next.size > 0 && (
          <li
            id={itemId({ kind: "more", name: parent, level, parent })}
            role="treeitem"
            aria-level={level}
            class="more"
            tabIndex={itemId({ kind: "more", name: parent, level, parent }) === focusedId ? 0 : -1}
            onClick={(e) => {
              e.stopPropagation();
              activate({ kind: "more", name: parent, level, parent });
            }}
          >
            <span class="tree-row" style={{ paddingLeft: `${(level - 1) * 1.1 + 1}rem` }}>
              {node.loading ? "loading…" : `Load ${PAGE_SIZE} more`}
            </span>
          </li>
        )}
      </>
    );
  }

  const root = nodes.get(ROOT)!;
  return (
    <nav class="tree-panel" aria-label="Resources">
      <form class="search" onSubmit={find} role="search">
        <TextField label="Find a resource" value={query} onInput={setQuery} placeholder="projects/p1, or an id, or a display name" />
        <button type="submit">Find</button>
      </form>
      {searchMessage && <p class="muted" role="status">{searchMessage}</p>}
      <ErrorBox problem={searchProblem} />
      <div class="tree-actions">
        {schema.roots.map((t) => (
          <a class="button" href={`#/create/${t.name}`} key={t.name}>
            New {t.name}
          </a>
        ))}
      </div>
      <ErrorBox problem={root.problem} />
      {root.children?.length === 0 && <p class="muted">No resources yet.</p>}
      <ul role="tree" aria-label="Resource hierarchy" class="tree" onKeyDown={onKeyDown}>
        {renderLevel(ROOT, 1)}
      </ul>
    </nav>
  );
}
