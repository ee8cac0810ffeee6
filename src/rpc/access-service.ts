// AccessService: thin adapter from RPC messages to the Access facade.
import type { ServiceImpl } from "@connectrpc/connect";
import type { AccessService } from "../../gen/policy/v1/access_service_pb.js";
import type { Access } from "../domain/access/access.js";
import type { Authorizer } from "../domain/access/authorizer.js";
import { callerOf, resolvedOf } from "./context.js";

export function accessService(access: Access, authorizer: Authorizer): ServiceImpl<typeof AccessService> {
  return {
    checkAccess: (req, ctx) =>
      access.check(req, resolvedOf(ctx, req.resource), (chain) => authorizer.disclosed(callerOf(ctx), chain, () => "access.check")),
  };
}
