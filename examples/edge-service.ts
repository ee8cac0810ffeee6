// An example service that enforces the policies at its edge: a plain Node HTTP server whose routes are guarded by the
// SDK's HTTP middleware, checked in process on a policy mirror of one organization (no round trip per request).
//
//   node --import tsx examples/edge-service.ts --server http://127.0.0.1:8080 --scope organizations/acme [--port 3000]
//
//   curl -H 'x-principal: user:ada@example.com' http://127.0.0.1:3000/projects/prj_xyz789          # 200 or 403
//   curl -X DELETE -H 'x-principal: user:ada@example.com' http://127.0.0.1:3000/projects/prj_xyz789
//   curl http://127.0.0.1:3000/healthz                                                        # public
//
// The caller's identity comes from the `x-principal` header to keep the example short: a real service takes it from
// its verified authentication (a JWT's subject, a client certificate), never from a header the caller chooses.
// The same middleware works in Express (`app.use(guard)`) and Fastify (an `onRequest` hook calling it on
// `req.raw`/`reply.raw`); a Connect or gRPC service uses `enforceInterceptor` with the same rule shape.
import { createServer, type IncomingMessage } from "node:http";
import { parseArgs } from "node:util";
import { createPolicyClient, createPolicyMirror, enforceHttp, type Requirement } from "../src/client/index.js";

const { values } = parseArgs({
  options: {
    server: { type: "string", default: "http://127.0.0.1:8080" },
    scope: { type: "string" },
    port: { type: "string", default: "3000" },
    token: { type: "string" },
  },
});
if (!values.scope) throw new Error("--scope is required, e.g. --scope organizations/acme");

const client = createPolicyClient({ baseUrl: values.server!, token: values.token });
// Past 30 s without hearing from the policy server, checks go to the server itself (or fail closed: `whenStale`).
const mirror = createPolicyMirror({ client, scope: values.scope, maxStalenessMs: 30_000, whenStale: "rpc" });

/** The service author's rule: which permission on which resource each route needs. */
const VERBS: Record<string, string> = { GET: "get", PUT: "update", PATCH: "update", DELETE: "delete" };
function rule(req: IncomingMessage): Requirement | undefined {
  const match = /^\/(projects|clouds|organizations)\/([A-Za-z0-9_.-]+)$/.exec(new URL(req.url ?? "/", "http://x").pathname);
  const verb = VERBS[req.method ?? ""];
  if (!match || !verb) return undefined;
  const principal = req.headers["x-principal"];
  return {
    resource: `${match[1]}/${match[2]}`,
    permission: `${match[1]}.${verb}`,
    principals: typeof principal === "string" && principal !== "" ? [principal] : [],
  };
}

const guard = enforceHttp({
  checker: mirror,
  rule,
  allowUnmapped: (req) => req.url === "/healthz",
  onDecision: (verdict, req, { requirement, error }) =>
    console.log(`${req.method} ${req.url} -> ${verdict}${requirement ? ` (${requirement.permission})` : ""}${error ? `: ${String(error)}` : ""}`),
});

const server = createServer((req, res) =>
  guard(req, res, (error) => {
    if (error) {
      res.statusCode = 500;
      return res.end();
    }
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ ok: true, path: req.url, mirrorSequence: String(mirror.sequence()) }));
  }),
);

await mirror.ready;
server.listen(Number(values.port), "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : values.port;
  console.log(`edge service listening on http://127.0.0.1:${port} (mirror of ${values.scope} at sequence ${mirror.sequence()})`);
});

const stop = async () => {
  server.close();
  await mirror.close();
  client.close();
};
process.once("SIGINT", () => void stop());
process.once("SIGTERM", () => void stop());
