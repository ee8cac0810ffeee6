// SyncService: thin adapter from RPC messages to the Sync facade.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { DeleteConsumerResponseSchema, ListConsumersResponseSchema, SyncService } from "../../gen/policy/v1/sync_service_pb.js";
import type { Sync } from "../domain/sync.js";
import { callerOf } from "./context.js";

export function syncService(sync: Sync): ServiceImpl<typeof SyncService> {
  return {
    createConsumer: (req, ctx) => sync.create(req, callerOf(ctx)),
    getConsumer: (req, ctx) => sync.get(req, callerOf(ctx)),
    listConsumers: async (_req, ctx) => create(ListConsumersResponseSchema, { consumers: await sync.list(callerOf(ctx)) }),
    deleteConsumer: async (req, ctx) => (await sync.delete(req, callerOf(ctx)), create(DeleteConsumerResponseSchema)),
    acknowledgeChanges: (req, ctx) => sync.acknowledge(req, callerOf(ctx)),
    getSyncStatus: (req, ctx) => sync.status(req, callerOf(ctx)),
  };
}
