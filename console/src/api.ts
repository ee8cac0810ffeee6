// Clients of the API on this origin (Connect protocol, binary), with the bearer token the user entered. The token
// lives in this module only: never in storage, so it is gone when the tab closes.
import type { Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { apiClients } from "../../src/api-services.js";

let token = "";

export function setToken(value: string): void {
  token = value.trim().replace(/^Bearer\s+/i, "");
}

export function hasToken(): boolean {
  return token !== "";
}

const bearer: Interceptor = (next) => (req) => {
  if (token) req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

// Connect over fetch: unary calls, and server streams (Watch) read from the response body as it arrives.
const transport = createConnectTransport({ baseUrl: location.origin, useBinaryFormat: true, interceptors: [bearer] });

export const api = apiClients(transport);

const inFlight = new Map<string, ReturnType<typeof api.resources.getResource>>();

/** GetResource, one request for callers asking for the same resource at the same time (the page and the tree). */
export function getResource(name: string): ReturnType<typeof api.resources.getResource> {
  let pending = inFlight.get(name);
  if (!pending) {
    pending = api.resources.getResource({ name });
    inFlight.set(name, pending);
    const done = () => inFlight.delete(name);
    pending.then(done, done);
  }
  return pending;
}
