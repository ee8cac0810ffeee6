// ResourceService: thin adapter from RPC messages to the Resources facade.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  DeleteResourceResponseSchema,
  ListResourcesResponseSchema,
  ResourceService,
} from "../../gen/policy/v1/resource_service_pb.js";
import type { Resources } from "../domain/resources.js";
import { callerOf } from "./context.js";

export function resourceService(resources: Resources): ServiceImpl<typeof ResourceService> {
  return {
    createResource: (req, ctx) => resources.create(req.resource, callerOf(ctx)),
    getResource: (req) => resources.get(req.name),
    listResources: async (req) =>
      create(ListResourcesResponseSchema, await resources.list(req.parent, req.type, req.pageSize, req.pageToken)),
    updateResource: (req, ctx) => resources.update(req.resource, req.updateMask, callerOf(ctx)),
    deleteResource: async (req, ctx) =>
      create(DeleteResourceResponseSchema, await resources.delete(req.name, req.etag, req.cascade, callerOf(ctx))),
  };
}
