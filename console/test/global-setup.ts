// Builds the console before the tests when console/dist is missing or older than a source file.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildConsole, DIST, isBuilt } from "../build.js";

const SOURCES = fileURLToPath(new URL("../src/", import.meta.url));

function stale(): boolean {
  if (!isBuilt()) return true;
  const built = statSync(join(DIST, "console.js")).mtimeMs;
  return readdirSync(SOURCES).some((f) => statSync(join(SOURCES, f)).mtimeMs > built);
}

export default async function setup(): Promise<void> {
  if (stale()) await buildConsole();
}
