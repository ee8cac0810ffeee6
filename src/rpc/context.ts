// What handlers and interceptors know about a call beyond its message: who is calling, from where.
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { PeerCertificate } from "node:tls";
import { ANONYMOUS, type Caller } from "../domain/access/authorizer.js";
import type { CallResources, ResolvedResource } from "../domain/access/resolved.js";
import type { CallEnd } from "../domain/stream-buffer.js";

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

/**
 * One request header's value, read without building the whole header set: the grpc-js port answers it from the
 * call's metadata (the main port has no such key: its headers are built already).
 */
export const headerValueKey = createContextKey<((name: string) => string | undefined) | undefined>(undefined, {
  description: "one request header's value",
});

/**
 * What ends the call (the client cancelled, its deadline passed), where the transport has something lighter than
 * `ctx.signal` (the grpc-js port: its call's own event; an AbortController per call is ~0.6 KB an idle Watch stream).
 */
export const callEndKey = createContextKey<CallEnd | undefined>(undefined, { description: "what ends the call" });

export function callEndOf(ctx: HandlerContext): CallEnd {
  return ctx.values.get(callEndKey) ?? ctx.signal;
}

/** What the auth interceptor resolved for a call of the policy API. */
export interface CallScope {
  /** The call's resources, each resolved once and shared by its authorization, its handler and read auditing. */
  resources: CallResources;
  /** The resource the call is about, as its rule names it; undefined when it names none. */
  target: ResolvedResource | undefined;
}

export const callScopeKey = createContextKey<CallScope | undefined>(undefined, {
  description: "the call's resolved resources",
});

/**
 * `name`, resolved once for the call. Throws when the auth interceptor did not run: a handler of the policy API
 * must never run unauthorized.
 */
export function resolvedOf(ctx: HandlerContext, name: string): ResolvedResource {
  const scope = ctx.values.get(callScopeKey);
  if (!scope) throw new Error(`${ctx.service.typeName}/${ctx.method.name} ran without the auth interceptor`);
  return scope.resources.of(name);
}
