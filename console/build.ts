// Builds the web console into console/dist (index.html, console.js, console.css), which the server serves under
// /console/. `--if-missing` builds only when dist has no bundle yet (npm start on a fresh clone).
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(fileURLToPath(import.meta.url));
export const DIST = join(ROOT, "dist");

/**
 * Builds the console into `outDir` (default console/dist; `npm run build` builds dist/console/dist without touching
 * the one tests and tsx-run servers use); returns the bundle's size in bytes (JavaScript and CSS, minified).
 */
export async function buildConsole(outDir = DIST): Promise<number> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: { console: join(ROOT, "src/main.tsx") },
    outdir: outDir,
    bundle: true,
    minify: true,
    format: "esm",
    target: ["chrome110", "firefox110", "safari16"],
    jsx: "automatic",
    jsxImportSource: "preact",
    legalComments: "none",
    logLevel: "warning",
  });
  copyFileSync(join(ROOT, "src/index.html"), join(outDir, "index.html"));
  copyFileSync(join(ROOT, "src/console.css"), join(outDir, "console.css"));
  return statSync(join(outDir, "console.js")).size + statSync(join(outDir, "console.css")).size;
}

export function isBuilt(): boolean {
  return existsSync(join(DIST, "console.js")) && existsSync(join(DIST, "index.html"));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--if-missing") && isBuilt()) process.exit(0);
  const bytes = await buildConsole();
  console.log(`console built into ${DIST}: ${(bytes / 1024).toFixed(1)} KiB of JavaScript and CSS`);
}
