// The CLI's version: baked in by the CLI package's bundle (packages/cli/build.ts defines POLICY_CLI_VERSION), else the
// repository's package.json, found from this file (src/cli or dist/src/cli). Reads no more than that, so that
// `policy --version` stays fast.
import { readFileSync } from "node:fs";

declare const POLICY_CLI_VERSION: string | undefined;

export function cliVersion(): string {
  if (typeof POLICY_CLI_VERSION === "string") return POLICY_CLI_VERSION;
  for (const path of ["../../package.json", "../../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "policy-service" && pkg.version) return pkg.version;
    } catch {
      // Not at this depth: try the next one.
    }
  }
  return "unknown";
}
