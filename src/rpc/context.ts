// Who is calling, as handlers see it. Until authentication is configured every caller is anonymous.
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { Actor } from "../store/store.js";

export const ANONYMOUS: Actor = { principal: "anonymous" };

export const actorKey = createContextKey<Actor>(ANONYMOUS, { description: "the authenticated caller" });

export function actorOf(ctx: HandlerContext): Actor {
  return ctx.values.get(actorKey);
}

/** The caller's network address, for the call log. */
export const peerKey = createContextKey<string>("", { description: "the caller's address" });
