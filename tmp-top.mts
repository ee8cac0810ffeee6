import { readFileSync } from "node:fs";
const p = JSON.parse(readFileSync(process.argv[2]!, "utf8"));
const self = new Map<string, number>(); const dt = new Map<number, number>();
p.samples.forEach((id: number, i: number) => dt.set(id, (dt.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
const byId = new Map(p.nodes.map((n: any) => [n.id, n]));
const parent = new Map<number, number>(); for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const total = new Map<string, number>();
let sum = 0;
for (const [id, t] of dt) { const n: any = byId.get(id); const k = `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").slice(-2).join("/")}:${n.callFrame.lineNumber}`; self.set(k, (self.get(k) ?? 0) + t); sum += t;
  const seen = new Set<string>(); let cur: number | undefined = id; while (cur !== undefined) { const m: any = byId.get(cur); const kk = `${m.callFrame.functionName || "(anon)"} ${m.callFrame.url.split("/").slice(-2).join("/")}:${m.callFrame.lineNumber}`; if (!seen.has(kk)) { seen.add(kk); total.set(kk, (total.get(kk) ?? 0) + t); } cur = parent.get(cur); } }
const show = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).forEach(([k, v]) => console.log((v / 1000).toFixed(0).padStart(7), "ms", k));
console.log("total", (sum / 1000).toFixed(0)); console.log("-- self"); show(self, 25); console.log("-- inclusive"); show(total, 40);
