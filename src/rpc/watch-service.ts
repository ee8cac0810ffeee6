// WatchService: thin adapter from the Watch RPC to the Watch facade's stream (ends when the client cancels).
import type { ServiceImpl } from "@connectrpc/connect";
import { WatchService } from "../../gen/policy/v1/watch_service_pb.js";
import type { Watch } from "../domain/watch.js";
import { callerOf } from "./context.js";

export function watchService(watch: Watch): ServiceImpl<typeof WatchService> {
  return {
    watch: (req, ctx) => watch.watch(req, callerOf(ctx), ctx.signal),
  };
}
