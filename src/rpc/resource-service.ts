// ResourceService: thin adapter from RPC messages to the Resources facade.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  DeleteResourceResponseSchema,
  ImportErrorSchema,
  ImportResourcesResponseSchema,
  ListResourcesResponseSchema,
  ResourceService,
} from "../../gen/policy/v1/resource_service_pb.js";
import type { Authorizer } from "../domain/access/authorizer.js";
import { importAuthorizer } from "../domain/access/import-access.js";
import type { Importer } from "../domain/import.js";
import type { Resources } from "../domain/resources.js";
import { toConnectError } from "./connect-errors.js";
import { callerOf, resolvedOf } from "./context.js";

export function resourceService(resources: Resources, importer: Importer, authorizer: Authorizer): ServiceImpl<typeof ResourceService> {
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
    importResources: async (req, ctx) => {
      const caller = callerOf(ctx);
      const outcome = await importer.import(req.items, caller, importAuthorizer(authorizer, caller));
      return create(ImportResourcesResponseSchema, {
        imported: outcome.imported,
        sequence: BigInt(outcome.sequence),
        errors: outcome.failures.map(({ index, error }) => {
          // The code and message the item's single write would have answered (expected failures only).
          const { code, rawMessage } = toConnectError(error, () => undefined);
          return create(ImportErrorSchema, { index, code, message: rawMessage });
        }),
      });
    },
  };
}
