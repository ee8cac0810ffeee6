// What handlers and interceptors know about a call beyond its message: who is calling, from where.
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { PeerCertificate } from "node:tls";
import { ANONYMOUS, type Caller } from "../domain/access/authorizer.js";

/** The authenticated caller (set by the auth interceptor); anonymous in development mode. */
export const callerKey = createContextKey<Caller>(ANONYMOUS, { description: "the authenticated caller" });

export function callerOf(ctx: HandlerContext): Caller {
  return ctx.values.get(callerKey);
}

/** The caller's network address, for the call log. */
export const peerKey = createContextKey<string>("", { description: "the caller's address" });

/** The client certificate, when TLS verified one against the configured client CA. */
export const peerCertificateKey = createContextKey<PeerCertificate | undefined>(undefined, {
  description: "the verified client certificate",
});

/** The wire protocol of the call, when the transport knows it without parsing headers (the grpc-js port). */
export const protocolKey = createContextKey<string>("", { description: "the call's protocol" });
