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
    createResource: (req, ctx) => resources.create(req, callerOf(ctx)),
    getResource: (req) => resources.get(req),
    listResources: async (req) => create(ListResourcesResponseSchema, await resources.list(req)),
    updateResource: (req, ctx) => resources.update(req, callerOf(ctx)),
    deleteResource: async (req, ctx) => create(DeleteResourceResponseSchema, await resources.delete(req, callerOf(ctx))),
  };
}
