// The server as `npm start` runs it: compiled to dist/ (built here when a source is newer than the build, as npm's
// prestart does) and run by plain node, without tsx's loader. Benchmarks measure what users run.
import { build, isStale } from "../scripts/build.js";

export const SERVER_ENTRY = "dist/src/main.js";

/** Builds dist/ if stale; returns the node arguments that start the server as `npm start` does. */
export async function builtServerArgs(): Promise<string[]> {
  if (isStale()) await build({ packages: false });
  return [SERVER_ENTRY];
}
