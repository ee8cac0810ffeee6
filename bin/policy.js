#!/usr/bin/env node
// The `policy` command inside the repository (`npx policy`): tsx's ESM loader runs the TypeScript sources of src/cli
// directly, so a change needs no rebuild. What users install is the esbuild bundle of packages/cli (no tsx).
import { register } from "tsx/esm/api";

register({ tsconfig: new URL("../tsconfig.json", import.meta.url).pathname });
await import("../src/cli/main.ts");
