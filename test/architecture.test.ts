// The layering rules of docs/architecture.md, read from the imports of every file under src/.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Every file under src/ with the src-relative paths of the local modules it imports. */
const imports = sourceFiles(SRC).map((file) => {
  const text = readFileSync(file, "utf8");
  const targets = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gms)].map((m) =>
    relative(SRC, resolve(dirname(file), m[1]!.replace(/\.js$/, ".ts"))),
  );
  return { file: relative(SRC, file), targets };
});

const importers = (prefix: string) =>
  imports.filter(({ file, targets }) => !file.startsWith(prefix) && targets.some((t) => t.startsWith(prefix))).map((i) => i.file);

test("the imports are read: the check below sees the files that choose and use the store", () => {
  expect(imports.length).toBeGreaterThan(40);
  expect(imports.find((i) => i.file === "store/open-store.ts")?.targets).toContain("store/sqlite/sqlite-store.ts");
});

test("nothing outside store/sqlite/ imports it but the one place that chooses the store", () => {
  expect(importers("store/sqlite/")).toEqual(["store/open-store.ts"]);
});

test("the store imports nothing from the layers above it", () => {
  const upward = imports
    .filter(({ file }) => file.startsWith("store/"))
    .flatMap(({ file, targets }) => targets.filter((t) => /^(rpc|domain|cli|client)\//.test(t) || t === "server.ts").map((t) => `${file} -> ${t}`));
  expect(upward).toEqual([]);
});

test("the domain imports neither the RPC layer nor a store implementation", () => {
  const upward = imports
    .filter(({ file }) => file.startsWith("domain/"))
    .flatMap(({ file, targets }) =>
      targets.filter((t) => /^(rpc|cli|client)\//.test(t) || t === "server.ts" || t === "store/open-store.ts").map((t) => `${file} -> ${t}`),
    );
  expect(upward).toEqual([]);
});

test("the SDK runs the domain's pure decision code (the mirror), never a store, the server or its handlers", () => {
  const forbidden = imports
    .filter(({ file }) => file.startsWith("client/"))
    .flatMap(({ file, targets }) =>
      targets
        .filter((t) => /^(store\/(sqlite|postgres)\/|store\/(caching-store|open-store)\.ts|server\.ts|cli\/)/.test(t) || (t.startsWith("rpc/") && t !== "rpc/connect-errors.ts"))
        .map((t) => `${file} -> ${t}`),
    );
  expect(forbidden).toEqual([]);
});

test("the layers reach tracing through tracing/spans.ts alone; only the composition root loads the SDK", () => {
  const sdkUsers = imports.filter(({ targets }) => targets.some((t) => t === "tracing/sdk.ts")).map((i) => i.file);
  // server.ts names its type, and loads it with a dynamic import only when an endpoint is configured.
  expect(sdkUsers).toEqual(["server.ts"]);
  expect(readFileSync(join(SRC, "server.ts"), "utf8")).toMatch(/^import type \{[^}]*\} from "\.\/tracing\/sdk\.js";$/m);
  const sdkImports = sourceFiles(SRC)
    .filter((file) => /from "@opentelemetry\/(?!api")/.test(readFileSync(file, "utf8")))
    .map((file) => relative(SRC, file))
    .sort();
  expect(sdkImports).toEqual(["rpc/tracing.ts", "tracing/sampling.ts", "tracing/sdk.ts"]);
  // What the layers import of tracing imports nothing of theirs.
  for (const file of ["tracing/spans.ts", "tracing/writes.ts"]) {
    expect(imports.find((i) => i.file === file)?.targets.filter((t) => !t.startsWith("tracing/")), file).toEqual([]);
  }
});
