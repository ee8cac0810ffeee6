// `node --import tsx bench/flamegraph.ts IN.cpuprofile OUT.svg [--title T] [--subtitle S]`: a V8 .cpuprofile (from
// `node --cpu-prof`, e.g. the ones bench/profile.ts keeps) as a self-contained SVG flame graph in the style of Brendan
// Gregg's flamegraph.pl, for committing under docs/ and viewing in a browser or on GitHub (hover a frame for its
// samples). The root is the bottom bar, drawn as "all"; stacks are merged by frame (function, url, line) along each
// path; a frame's width is its inclusive samples over all non-idle samples; siblings are sorted alphabetically by
// label, as flamegraph.pl does (so x position means nothing, width is everything). Samples whose leaf is (idle) are
// left out; (garbage collector) and (program) stay as their own frames under the root. Colours are by part, in the
// order bench/profile.ts groups them, decided by each frame's own url. Node built-ins only; deterministic output.
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { PROFILE_PARTS } from "./profile-parts.js";

export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
    hitCount?: number;
    children?: number[];
  }[];
  samples?: number[];
  timeDeltas?: number[];
  startTime?: number;
  endTime?: number;
}
type Frame = CpuProfile["nodes"][number]["callFrame"];
interface Merged { label: string; part: number; self: number; total: number; children: Map<string, Merged> }

const PARTS: [name: string, colour: string, test: (url: string) => boolean][] = [
  ...PROFILE_PARTS.map((p): [string, string, (url: string) => boolean] => [p.short, p.colour, p.test]),
  ["GC", "#a6acaf", () => false],
  ["program", "#d5dbdb", () => false],
  ["other", "#e5e8e8", () => false],
];
const GC = PROFILE_PARTS.length, PROGRAM = GC + 1, OTHER = GC + 2, ROW = 16, CHAR = 7;

function partOf(f: Frame): number {
  if (f.functionName === "(garbage collector)") return GC;
  if (f.functionName === "(program)") return PROGRAM;
  const i = PARTS.findIndex(([, , test]) => test(f.url));
  return i < 0 ? OTHER : i;
}

/** `name where:line`, with the url cut to the part after node_modules/ (the last one), dist/ or the first src/. */
function labelOf(f: Frame): string {
  const url = f.url.startsWith("node:") ? f.url
    : (/^.*node_modules\/(.*)$/.exec(f.url) ?? /^.*?\/dist\/(.*)$/.exec(f.url) ?? /^.*?\/(src\/.*)$/.exec(f.url))?.[1] ?? basename(f.url);
  return `${f.functionName || "(anonymous)"}${url ? ` ${url}:${f.lineNumber + 1}` : ""}`;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const num = (n: number) => String(Math.round(n * 100) / 100);

export function flameGraphSvg(profile: CpuProfile, options: { title: string; subtitle?: string; width?: number; minWidthPx?: number }): string {
  const width = options.width ?? 1200, minWidth = options.minWidthPx ?? 0.3;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const weight = new Map<number, number>();
  if (profile.samples) for (const id of profile.samples) weight.set(id, (weight.get(id) ?? 0) + 1);
  else for (const n of profile.nodes) weight.set(n.id, n.hitCount ?? 0);
  for (const n of profile.nodes) if (n.callFrame.functionName === "(idle)") weight.delete(n.id);

  // Merge the call tree by frame identity under each merged parent; the root is the node no one lists as a child.
  const childIds = new Set(profile.nodes.flatMap((n) => n.children ?? []));
  const rootNode = profile.nodes.find((n) => !childIds.has(n.id));
  const root: Merged = { label: "all", part: OTHER, self: 0, total: 0, children: new Map() };
  const merge = (id: number, into: Merged): void => {
    for (const childId of byId.get(id)?.children ?? []) {
      const f = byId.get(childId)!.callFrame;
      const key = `${f.functionName}\n${f.url}\n${f.lineNumber}`;
      let m = into.children.get(key);
      if (!m) into.children.set(key, (m = { label: labelOf(f), part: partOf(f), self: 0, total: 0, children: new Map() }));
      m.self += weight.get(childId) ?? 0;
      merge(childId, m);
    }
  };
  if (rootNode) { root.self = weight.get(rootNode.id) ?? 0; merge(rootNode.id, root); }
  const sum = (m: Merged): number => (m.total = m.self + [...m.children.values()].reduce((s, c) => s + sum(c), 0));
  const total = sum(root);

  // Lay out: x by sorted siblings, depth 0 at the bottom; frames narrower than minWidth (and so their children) skipped.
  const rects: { m: Merged; x: number; w: number; depth: number }[] = [];
  const layout = (m: Merged, x: number, depth: number): void => {
    const w = total ? (m.total / total) * width : 0;
    if (w < minWidth || m.total === 0) return;
    rects.push({ m, x, w, depth });
    const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0); // code-unit order, not locale: deterministic
    const kids = [...m.children].sort(([ka, a], [kb, b]) => order(a.label, b.label) || order(ka, kb));
    for (const [, c] of kids) { layout(c, x, depth + 1); x += total ? (c.total / total) * width : 0; }
  };
  layout(root, 0, 0);

  const top = options.subtitle ? 72 : 56, maxDepth = Math.max(0, ...rects.map((r) => r.depth));
  const height = top + (maxDepth + 1) * ROW + 8;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="20" font-size="16" text-anchor="middle">${esc(options.title)}</text>`,
  ];
  if (options.subtitle) out.push(`<text x="${width / 2}" y="38" text-anchor="middle" fill="#555555">${esc(options.subtitle)}</text>`);
  let lx = 4; // legend row: one swatch and name per part
  for (const [name, colour] of PARTS) {
    out.push(`<rect x="${lx}" y="${top - 24}" width="12" height="12" fill="${colour}" stroke="#999999"/><text x="${lx + 16}" y="${top - 14}">${esc(name)}</text>`);
    lx += 16 + name.length * CHAR + 16;
  }
  for (const { m, x, w, depth } of rects) {
    const y = top + (maxDepth - depth) * ROW;
    const tip = `${m.label} (${m.total} sample${m.total === 1 ? "" : "s"}, ${((m.total / total) * 100).toFixed(2)}%)`;
    out.push(`<g><title>${esc(tip)}</title><rect x="${num(x)}" y="${y}" width="${num(w)}" height="${ROW - 1}" rx="2" fill="${PARTS[m.part]![1]}"/>`);
    const fits = Math.floor((w - 6) / CHAR);
    if (fits >= 3) out.push(`<text x="${num(x + 3)}" y="${y + 12}">${esc(m.label.length <= fits ? m.label : `${m.label.slice(0, fits - 2)}..`)}</text>`);
    out.push(`</g>`);
  }
  out.push(`</svg>`, "");
  return out.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { title: { type: "string" }, subtitle: { type: "string" } } });
  const [input, output] = positionals;
  if (!input || !output) {
    console.error("usage: node --import tsx bench/flamegraph.ts IN.cpuprofile OUT.svg [--title T] [--subtitle S]");
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(input, "utf8")) as CpuProfile;
  const subtitle = values.subtitle ?? `${basename(input)}; (idle) left out; hover a frame for its samples`;
  writeFileSync(output, flameGraphSvg(profile, { title: values.title ?? "CPU flame graph", subtitle }));
}
