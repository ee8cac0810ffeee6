// The CLI tests run `policy` as users install it: the esbuild bundle of packages/cli, built once per run from the
// sources into a directory of the run's own (~1 s), where running the sources through tsx costs ~1 s of CPU per
// command. test/helpers/cli.ts reads the path from POLICY_TEST_CLI (bin/policy.js, the sources, when it is unset).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleCli } from "../../packages/cli/bundle.js";

export default async function setup(): Promise<() => void> {
  const root = mkdtempSync(join(tmpdir(), "policy-cli-bundle-"));
  await bundleCli(root);
  process.env.POLICY_TEST_CLI = join(root, "dist", "policy.js");
  return () => rmSync(root, { recursive: true, force: true });
}
