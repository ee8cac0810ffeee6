// Bundles the `policy` CLI (src/cli, the SDK, the generated code, yaml) with esbuild into dist/, so that the
// installed package has no dependencies: `npm install -g` of its tarball needs neither the registry nor a compiler.
import { fileURLToPath } from "node:url";
import { bundleCli } from "./bundle.js";

await bundleCli(fileURLToPath(new URL(".", import.meta.url)));
