// Benchmarks that are not `npm run bench` write their own section of docs/benchmarks.md, replacing the previous run's.
import { readFileSync, writeFileSync } from "node:fs";

export const BENCHMARKS_DOC = "docs/benchmarks.md";

/** Replaces the section titled `## {title}` (up to the next `## `) with `body`, or appends it. */
export function writeDocSection(title: string, body: string, doc = BENCHMARKS_DOC): void {
  const text = readFileSync(doc, "utf8");
  const section = `## ${title}\n\n${body.trimEnd()}\n`;
  const escaped = title.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const marker = new RegExp(`## ${escaped}\\n[\\s\\S]*?(?=\\n## |$)`);
  writeFileSync(doc, marker.test(text) ? text.replace(marker, section) : `${text.trimEnd()}\n\n${section}`);
}
