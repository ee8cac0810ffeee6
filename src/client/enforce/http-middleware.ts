// A plain Node HTTP middleware, `(req, res, next)`: Express takes it as is (`app.use(...)`), Fastify through a hook
// (`fastify.addHook("onRequest", (req, reply, done) => middleware(req.raw, reply.raw, done))`) or @fastify/middie, and
// a bare `http.createServer` handler calls it first. Each request is mapped by the author's rule to (resource,
// permission), checked on a mirror or by the RPC; a refusal is 403 with the same body whatever the reason, a checker
// that cannot answer 503 — nothing about the policies is leaked.
import { decide, type EnforceOptions } from "./decision.js";

export type Next = (error?: unknown) => void;

/** What the middleware and a rule may read of a request: Node's IncomingMessage has it (typed here, so that the SDK needs no @types/node). */
export interface HttpRequest {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
}

/** What the middleware writes to: Node's ServerResponse. */
export interface HttpResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

export function enforceHttp<Req extends HttpRequest>(options: EnforceOptions<Req>): (req: Req, res: HttpResponse, next: Next) => void {
  return (req, res, next) => {
    decide(options, req).then(
      (verdict) => {
        if (verdict === "allow") return next();
        const [status, message] = verdict === "error" ? [503, "authorization is unavailable; retry later"] : [403, "permission denied"];
        res.statusCode = status;
        res.setHeader("content-type", "application/json");
        if (status === 503) res.setHeader("retry-after", "1");
        res.end(JSON.stringify({ error: message }));
      },
      (error: unknown) => next(error),
    );
  };
}
