// The web console on the main port: the static files `npm run build:console` writes to console/dist, served under
// /console/ (GET / redirects there), and /console/schema.json, the resource schema the server loaded: the API has no
// call for the hierarchy's types and parents (the roles a policy editor offers come from RoleService). Anything else
// goes to `next`.
import type { connectNodeAdapter } from "@connectrpc/connect-node";
import { readFile, readdir } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ResourceSchema } from "../schema/schema.js";

/** connect-node's fallback: a request of node:http or node:http2. */
type Handler = NonNullable<Parameters<typeof connectNodeAdapter>[0]["fallback"]>;
type Request = Parameters<Handler>[0];
type Response = Parameters<Handler>[1];

export const CONSOLE_DIST = fileURLToPath(new URL("../../console/dist/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
};

// The console talks only to this origin and loads no inline script; framing is refused (clickjacking).
const HEADERS = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  // Files are small and rebuilt in place: revalidate rather than serve a stale bundle.
  "cache-control": "no-cache",
};

/** The schema as the console reads it: types, their parents and collections, and the roles grantable on each. */
export function schemaJson(schema: ResourceSchema): string {
  return JSON.stringify({
    types: [...schema.types.values()].map((t) => ({
      name: t.name,
      collection: t.collection,
      parents: t.parents,
      roles: [...t.roles.values()].map((r) => ({
        name: r.name,
        title: r.title,
        description: r.description,
        permissions: [...r.permissions].sort(),
      })),
    })),
  });
}

export function consoleFiles(schema: ResourceSchema, next: Handler, dist = CONSOLE_DIST): Handler {
  const schemaBody = schemaJson(schema);
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    if ((req.method !== "GET" && req.method !== "HEAD") || !(path === "/" || path.startsWith("/console"))) {
      return next(req, res);
    }
    if (path === "/" || path === "/console") {
      res.writeHead(302, { location: "/console/" });
      res.end();
      return;
    }
    const name = path === "/console/" ? "index.html" : path.slice("/console/".length);
    if (name === "schema.json") return send(req, res, 200, TYPES[".json"]!, schemaBody);
    void serveFile(dist, name).then(
      (file) =>
        file
          ? send(req, res, 200, TYPES[extname(name)] ?? "application/octet-stream", file)
          : send(req, res, 404, "text/plain", `not found: ${path}${name === "index.html" ? " (build the console: npm run build:console)" : ""}\n`),
      () => send(req, res, 500, "text/plain", "could not read the console's files\n"),
    );
  };
}

// dist/ is flat: only a name listed in it is served, so no path can reach outside it.
async function serveFile(dist: string, name: string): Promise<Buffer | undefined> {
  let names: string[];
  try {
    names = await readdir(dist);
  } catch {
    return undefined;
  }
  return names.includes(name) ? readFile(join(dist, name)) : undefined;
}

function send(req: Request, res: Response, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { ...HEADERS, "content-type": type, "content-length": Buffer.byteLength(body) });
  if (req.method === "HEAD") res.end();
  else res.end(body);
}
