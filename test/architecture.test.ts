// The rules of docs/architecture.md, one test each (named by the rule's number), read from the imports of every file
// under src/ and console/src/. A rule on the page without a test here fails the first test.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { API_SERVICES } from "../src/api-services.js";
import { methodsWithoutAuthorizationRule } from "../src/rpc/auth/authorization-rules.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");
const PAGE = readFileSync(join(ROOT, "docs/architecture.md"), "utf8");
const THIS_FILE = readFileSync(fileURLToPath(import.meta.url), "utf8");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

interface Import {
  /** src-relative path of a local module (`store/store.ts`), `gen/...`, or a package name (`pg`, `node:fs`). */
  target: string;
  /** `import type` (erased: no code of the target runs). */
  typeOnly: boolean;
}

interface SourceFile {
  /** src-relative (`rpc/routes.ts`); console files are `console/src/...` relative to the repository. */
  file: string;
  imports: Import[];
}

const STATIC_IMPORT = /^(import|export)\s+(type\s+)?[^;]*?from\s+"([^"]+)"/gms;
const DYNAMIC_IMPORT = /\bimport\(\s*"([^"]+)"\s*\)/g;

function read(file: string, base: string): SourceFile {
  const text = readFileSync(file, "utf8");
  const local = (spec: string) => {
    if (!spec.startsWith(".")) return spec;
    const path = resolve(dirname(file), spec.replace(/\.js$/, ".ts"));
    const fromRoot = relative(ROOT, path);
    return base === SRC && fromRoot.startsWith("src/") ? relative(SRC, path) : fromRoot;
  };
  const imports: Import[] = [
    ...[...text.matchAll(STATIC_IMPORT)].map((m) => ({ target: local(m[3]!), typeOnly: m[2] !== undefined })),
    ...[...text.matchAll(DYNAMIC_IMPORT)].map((m) => ({ target: local(m[1]!), typeOnly: false })),
  ];
  return { file: relative(base, file), imports };
}

const FILES = sourceFiles(SRC).map((file) => read(file, SRC));
const CONSOLE = sourceFiles(join(ROOT, "console/src")).map((file) => read(file, ROOT));

const isLocal = (target: string) => !target.startsWith("gen/") && /\.tsx?$/.test(target);
const isGen = (target: string) => target.startsWith("gen/");
const ENTRY_POINTS = ["server.ts", "main.ts", "config.ts", "backup.ts", "migrate-store.ts"];
const SHARED_MODULES = [
  "api-services.ts",
  "schema/",
  "schema-file.ts",
  "service-error.ts",
  "etag.ts",
  "frozen-value.ts",
  "frozen-encoding.ts",
  "recent-cache.ts",
  "article.ts",
  "code-name.ts",
];
const isShared = (target: string) => SHARED_MODULES.some((m) => (m.endsWith("/") ? target.startsWith(m) : target === m));

/** `file -> target` for every import of the files under `prefix` that `allowed` refuses. */
function violations(prefix: string | ((file: string) => boolean), allowed: (i: Import, file: string) => boolean, files = FILES): string[] {
  const inScope = typeof prefix === "string" ? (file: string) => file.startsWith(prefix) : prefix;
  return files
    .filter(({ file }) => inScope(file))
    .flatMap(({ file, imports }) => imports.filter((i) => !allowed(i, file)).map((i) => `${file} -> ${i.target}${i.typeOnly ? " (type)" : ""}`));
}

/** The files outside `prefix` that import something under it. */
const importersOf = (matches: (target: string) => boolean) =>
  FILES.filter(({ imports }) => imports.some((i) => matches(i.target))).map((f) => f.file).sort();

test("the imports are read, and every rule the page states has its test here", () => {
  expect(FILES.length).toBeGreaterThan(100);
  expect(FILES.find((f) => f.file === "store/open-store.ts")?.imports.map((i) => i.target)).toContain("store/sqlite/sqlite-store.ts");
  expect(FILES.find((f) => f.file === "server.ts")?.imports).toContainEqual({ target: "tracing/sdk.ts", typeOnly: false });
  const rules = [...PAGE.matchAll(/^- \*\*(L\d+)\*\*/gm)].map((m) => m[1]!);
  expect(rules.length).toBeGreaterThan(10);
  for (const rule of rules) expect(THIS_FILE, `a test of ${rule}`).toContain(`test("${rule}:`);
});

test("L1: the store imports nothing above it", () => {
  const allowed = ({ target }: Import) =>
    !isLocal(target) || target.startsWith("store/") || isShared(target) || ["tracing/spans.ts", "tracing/writes.ts"].includes(target);
  expect(violations("store/", allowed)).toEqual([]);
});

test("L2: open-store.ts alone picks a store; implementations and drivers are imported where the page says", () => {
  const outside = (file: string) => !file.startsWith("store/");
  expect(importersOf((t) => t === "store/open-store.ts").filter(outside)).toEqual(["config.ts", "main.ts", "migrate-store.ts", "server.ts"]);
  const implementations = (t: string) => /^store\/(sqlite|postgres|cache)\//.test(t) || t === "store/caching-store.ts" || t === "store/traced-store.ts";
  const withinStore = FILES.filter((f) => f.file.startsWith("store/") && !/^store\/(sqlite|postgres|cache)\//.test(f.file));
  const cacheDecorator = (t: string) => t.startsWith("store/cache/");
  expect(withinStore.filter((f) => f.imports.some((i) => implementations(i.target) && !cacheDecorator(i.target))).map((f) => f.file)).toEqual(["store/open-store.ts"]);
  // The read cache's decorators are composed in caching-store.ts alone.
  expect(importersOf(cacheDecorator).filter((f) => !cacheDecorator(f))).toEqual(["store/caching-store.ts"]);
  const outsiders = FILES.filter((f) => outside(f.file)).flatMap((f) => f.imports.filter((i) => implementations(i.target)).map((i) => `${f.file} -> ${i.target}`));
  expect(outsiders.sort()).toEqual(["config.ts -> store/caching-store.ts"]);
  const drivers = importersOf((t) => t === "pg" || t === "better-sqlite3").filter(outside);
  expect(drivers).toEqual(["backup.ts"]);
});

test("L3: the domain imports the store's contract and errors only, and no layer above it", () => {
  const allowed = ({ target }: Import) =>
    !isLocal(target) ||
    target.startsWith("domain/") ||
    isShared(target) ||
    target === "store/store.ts" ||
    target === "store/store-error.ts" ||
    target.startsWith("tracing/");
  expect(violations("domain/", allowed)).toEqual([]);
});

test("L4: the domain does no I/O: its packages are the page's list", () => {
  const PACKAGES = /^(@bufbuild\/protobuf|@bufbuild\/cel|re2js|node:crypto$|node:module$)/;
  expect(violations("domain/", ({ target }) => isLocal(target) || isGen(target) || PACKAGES.test(target))).toEqual([]);
});

test("L5: the RPC layer takes store errors and the contract's types only, and never config or the entry points", () => {
  const allowed = ({ target, typeOnly }: Import) =>
    !isLocal(target) ||
    (!target.startsWith("store/") && !ENTRY_POINTS.includes(target) && !/^(cli|client)\//.test(target)) ||
    target === "store/store-error.ts" ||
    (target === "store/store.ts" && typeOnly);
  expect(violations("rpc/", allowed)).toEqual([]);
});

test("L6: the CLI talks to the server through the SDK and reads the schema as the server does", () => {
  const allowed = ({ target }: Import) => !isLocal(target) || /^(cli|client)\//.test(target) || isShared(target);
  expect(violations("cli/", allowed)).toEqual([]);
});

test("L7: the SDK imports no store, server or handler; only its mirror runs the domain's pure code", () => {
  const allowed = ({ target, typeOnly }: Import, file: string) => {
    if (!isLocal(target) || target.startsWith("client/") || isShared(target)) return true;
    if (!file.startsWith("client/mirror/")) return false;
    return target.startsWith("domain/") || target === "rpc/connect-errors.ts" || (target === "store/store.ts" && typeOnly);
  };
  expect(violations("client/", allowed)).toEqual([]);
  // The pure parts: nothing the mirror imports of the domain reaches I/O or a store implementation (L3, L4 hold for
  // every domain file), and the mirror does use them.
  expect(importersOf((t) => t.startsWith("domain/")).filter((f) => f.startsWith("client/"))).toEqual(["client/mirror/mirror.ts"]);
});

test("L8: the shared modules import no layer and no entry point", () => {
  const isSharedFile = (file: string) => isShared(file);
  const allowed = ({ target }: Import) => !isLocal(target) || isShared(target);
  expect(violations(isSharedFile, allowed)).toEqual([]);
  // Each module the page lists exists.
  for (const module of SHARED_MODULES) expect(FILES.some((f) => (module.endsWith("/") ? f.file.startsWith(module) : f.file === module)), module).toBe(true);
});

test("L9: the layers reach tracing through spans.ts and writes.ts; only the composition root loads the SDK", () => {
  const sdkUsers = importersOf((t) => t === "tracing/sdk.ts");
  // server.ts names its type, and loads it with a dynamic import only when an endpoint is configured.
  expect(sdkUsers).toEqual(["server.ts"]);
  expect(readFileSync(join(SRC, "server.ts"), "utf8")).toMatch(/^import type \{[^}]*\} from "\.\/tracing\/sdk\.js";$/m);
  const otelSdk = FILES.filter((f) => f.imports.some((i) => i.target.startsWith("@opentelemetry/") && i.target !== "@opentelemetry/api"));
  expect(otelSdk.map((f) => f.file).sort()).toEqual(["rpc/tracing.ts", "tracing/sampling.ts", "tracing/sdk.ts"]);
  for (const file of ["tracing/spans.ts", "tracing/writes.ts"]) {
    const ours = FILES.find((f) => f.file === file)!.imports.filter((i) => isLocal(i.target) && !i.target.startsWith("tracing/"));
    expect(ours, file).toEqual([]);
  }
  const tracingImports = FILES.filter((f) => !f.file.startsWith("tracing/") && f.file !== "server.ts" && f.file !== "config.ts")
    .flatMap((f) => f.imports.filter((i) => i.target.startsWith("tracing/") && !["tracing/spans.ts", "tracing/writes.ts", "tracing/sampling.ts"].includes(i.target)).map((i) => `${f.file} -> ${i.target}`));
  expect(tracingImports).toEqual([]);
});

describe("L10: the services are listed once, in api-services.ts", () => {
  const DESCRIPTOR = /import\s+(?!type\b)\{([^}]*)\}\s+from\s+"[^"]*gen\/policy\/v1\/\w+_service_pb\.js"/g;
  const descriptorsImported = (path: string) =>
    [...readFileSync(join(ROOT, path), "utf8").matchAll(DESCRIPTOR)].flatMap((m) =>
      m[1]!.split(",").map((name) => name.trim()).filter((name) => /^[A-Z]\w*Service$/.test(name)),
    );

  test("L10: the server, routes, the rules, the SDK's client and the console's api.ts import no service descriptor", () => {
    for (const path of ["src/server.ts", "src/rpc/routes.ts", "src/rpc/auth/authorization-rules.ts", "src/client/client.ts", "console/src/api.ts"]) {
      expect(descriptorsImported(path), path).toEqual([]);
    }
    expect(descriptorsImported("src/api-services.ts").length).toBe(API_SERVICES.length);
  });
});

test("L11: every method of every service has an authorization rule", () => {
  expect(API_SERVICES.length).toBeGreaterThan(5);
  expect(methodsWithoutAuthorizationRule(API_SERVICES)).toEqual([]);
});

test("L12: the console calls the API through api.ts and imports only pure modules of the server's code", () => {
  const serverCode = CONSOLE.flatMap((f) => f.imports.filter((i) => i.target.startsWith("src/")).map((i) => `${f.file} -> ${i.target}`));
  expect(serverCode.filter((line) => !/ -> src\/(domain\/members|domain\/access\/read-permissions|api-services)\.ts$/.test(line))).toEqual([]);
  const clients = CONSOLE.filter((f) => f.imports.some((i) => i.target === "src/api-services.ts" || i.target === "@connectrpc/connect-web"));
  expect(clients.map((f) => f.file)).toEqual(["console/src/api.ts"]);
  // What the console imports of the domain is pure in turn: it imports no store and no I/O.
  for (const file of ["domain/members.ts", "domain/access/read-permissions.ts"]) {
    const pure = FILES.find((f) => f.file === file)!;
    expect(pure.imports.filter((i) => i.target.startsWith("store/") || i.target.startsWith("node:")), file).toEqual([]);
  }
});

test("L13: the page names every domain facade the handlers are given", () => {
  const routes = readFileSync(join(SRC, "rpc/routes.ts"), "utf8");
  const services = /export interface Services \{([^}]*)\}/.exec(routes)![1]!;
  const facades = [...services.matchAll(/^\s*\w+: (\w+);$/gm)].map((m) => m[1]!);
  expect(facades.length).toBeGreaterThan(10);
  const facadeSection = PAGE.slice(PAGE.indexOf("- **`domain/`**"), PAGE.indexOf("- **`store/`**"));
  for (const facade of facades) expect(facadeSection, facade).toContain(`\`${facade}\``);
});
