// Bundles the `policy` CLI (src/cli, the SDK, the generated code, yaml) with esbuild into `<root>/dist`, the built-in
// schema beside it in `<root>/schema`: the package's build (build.ts) and the CLI tests (a bundle of their own, so
// that `npm pack` rebuilding the package's dist/ never races them) call it.
// The entry and the command code are separate chunks: `policy --version` loads only the entry.
import { build } from "esbuild";
import { cpSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = join(HERE, "../..");

export async function bundleCli(root: string): Promise<void> {
  const { version } = JSON.parse(readFileSync(join(HERE, "package.json"), "utf8")) as { version: string };
  rmSync(join(root, "dist"), { recursive: true, force: true });
  await build({
    entryPoints: { policy: join(ROOT, "src/cli/main.ts") },
    outdir: join(root, "dist"),
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    minify: true,
    legalComments: "none",
    logLevel: "warning",
    define: { POLICY_CLI_VERSION: JSON.stringify(version) },
    // Some bundled dependencies are CommonJS and call require() for node builtins: give ESM chunks a require.
    banner: {
      js: '#!/usr/bin/env node\nimport { createRequire as __createRequire } from "node:module";\nconst require = __createRequire(import.meta.url);',
    },
  });
  // The bundle reads the built-in schema where src/schema-file.ts looks for it: ../schema/default.yaml.
  rmSync(join(root, "schema"), { recursive: true, force: true });
  cpSync(join(ROOT, "schema"), join(root, "schema"), { recursive: true });
}
