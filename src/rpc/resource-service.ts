// ResourceService: thin adapter from RPC messages to the Resources facade.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  DeleteResourceResponseSchema,
  ListResourcesResponseSchema,
  ResourceService,
} from "../../gen/policy/v1/resource_service_pb.js";
import type { Authorizer } from "../domain/access/authorizer.js";
import type { Resources } from "../domain/resources.js";
import { callerOf, resolvedOf } from "./context.js";

export function resourceService(resources: Resources, authorizer: Authorizer): ServiceImpl<typeof ResourceService> {
  return {
    createResource: (req, ctx) => resources.create(req, callerOf(ctx)),
    getResource: (req) => resources.get(req),
    listResources: async (req, ctx) => {
      // Without a type: only the types the caller may list under the parent, as a typed listing requires.
      const types = req.parent && !req.type ? await authorizer.listableUnder(callerOf(ctx), resolvedOf(ctx, req.parent)) : undefined;
      return create(ListResourcesResponseSchema, await resources.list(req, types));
    },
    updateResource: (req, ctx) => resources.update(req, callerOf(ctx)),
    deleteResource: async (req, ctx) => create(DeleteResourceResponseSchema, await resources.delete(req, callerOf(ctx))),
  };
}
