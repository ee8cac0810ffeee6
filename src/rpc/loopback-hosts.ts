// Development mode lets every caller do everything and listens on loopback only, but a web page in a local browser can
// still reach it through DNS rebinding (its own host name, resolved to 127.0.0.1). Such a request names the foreign
// host in `Host` (`:authority`) and `Origin`: answer only requests whose host names are loopback ones.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { isLoopback } from "./auth/setup.js";

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

/** `handler`, refusing (403) a request whose `Host`, `:authority` or `Origin` is not a loopback host name. */
export function loopbackHostsOnly<H extends (req: never, res: never) => void>(handler: H): H {
  const guarded = (req: Request, res: Response) => {
    const host = req.headers[":authority"] ?? req.headers.host;
    const origin = req.headers.origin;
    if ((typeof host === "string" && !isLoopback(hostOf(host))) || (origin !== undefined && !loopbackOrigin(origin))) {
      res.writeHead(403, { "content-type": "text/plain" });
      res.end(
        "development mode answers only requests to a loopback host name (localhost, 127.0.0.0/8, [::1]) in Host and " +
          "Origin; configure authentication to serve other names\n",
      );
      return;
    }
    (handler as unknown as (req: Request, res: Response) => void)(req, res);
  };
  return guarded as unknown as H;
}

/** The host name of a `Host` header: `localhost:8080` → `localhost`, `[::1]:8080` → `[::1]`. */
function hostOf(host: string): string {
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  const colon = host.indexOf(":");
  return colon === -1 ? host : host.slice(0, colon);
}

function loopbackOrigin(origin: string): boolean {
  try {
    return isLoopback(new URL(origin).hostname);
  } catch {
    return false; // "null" (a sandboxed or file: page) and anything unparsable
  }
}
