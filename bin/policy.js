#!/usr/bin/env node
// The `policy` command. There is no build step: tsx's ESM loader runs the TypeScript sources directly.
import { register } from "tsx/esm/api";

register({ tsconfig: new URL("../tsconfig.json", import.meta.url).pathname });
await import("../src/cli/main.ts");
