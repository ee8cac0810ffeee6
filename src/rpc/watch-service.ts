// WatchService: thin adapter from the Watch RPC to the Watch facade's stream (ends when the client cancels). A binary
// codec gets the shared messages as the bytes made once for them: connect-node (the main port) would otherwise encode
// each message once per stream; the gRPC port sends those same bytes either way.
import type { ServiceImpl } from "@connectrpc/connect";
import { WatchService } from "../../gen/policy/v1/watch_service_pb.js";
import type { Watch } from "../domain/watch.js";
import { isBinaryCall } from "./codec.js";
import { callEndOf, callerOf } from "./context.js";

export function watchService(watch: Watch): ServiceImpl<typeof WatchService> {
  return {
    watch: (req, ctx) => watch.watch(req, callerOf(ctx), callEndOf(ctx), isBinaryCall(ctx)),
  };
}
