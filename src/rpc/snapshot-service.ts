// SnapshotService: thin adapter from the Snapshot RPC to the Snapshots facade's stream (ends with its last page). A
// binary codec gets pages whose stored policies are sent as their bytes; JSON (which writes no unknown fields) gets
// messages.
import type { ServiceImpl } from "@connectrpc/connect";
import { SnapshotService } from "../../gen/policy/v1/snapshot_service_pb.js";
import type { Snapshots } from "../domain/snapshot.js";
import { isBinaryCall } from "./codec.js";
import { callerOf } from "./context.js";

export function snapshotService(snapshots: Snapshots): ServiceImpl<typeof SnapshotService> {
  return {
    snapshot: (req, ctx) => snapshots.snapshot(req, callerOf(ctx), ctx.signal, isBinaryCall(ctx)),
  };
}
