// Which codec a call uses, from its request's content type: a binary one can carry bytes made beforehand as unknown
// fields (Snapshot's stored policies, Watch's shared messages); JSON writes no unknown fields.
import type { HandlerContext } from "@connectrpc/connect";
import { headerValueKey } from "./context.js";

/** application/json, application/connect+json, application/grpc+json, application/grpc-web+json. */
export const isJson = (contentType: string | null): boolean => contentType !== null && /[/+]json\b/.test(contentType);

/**
 * Whether a call's codec is binary, read without building the call's headers where the transport answers one header
 * (the gRPC port: a Watch stream kept the Headers it built for its whole life).
 */
export function isBinaryCall(ctx: HandlerContext): boolean {
  const header = ctx.values.get(headerValueKey);
  return !isJson((header ? header("content-type") : ctx.requestHeader.get("content-type")) ?? null);
}
