// AccessService: thin adapter from RPC messages to the Access and Lookups facades.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { GetCallerIdentityResponseSchema, type AccessService } from "../../gen/policy/v1/access_service_pb.js";
import type { Access } from "../domain/access/access.js";
import type { Authorizer } from "../domain/access/authorizer.js";
import type { Lookups } from "../domain/access/lookups.js";
import { readPermission } from "../domain/access/read-permissions.js";
import { callerOf, resolvedOf } from "./context.js";

export function accessService(access: Access, lookups: Lookups, authorizer: Authorizer): ServiceImpl<typeof AccessService> {
  return {
    // Explanations and grants show only what the caller could read itself (docs/security.md, "What answers show").
    checkAccess: (req, ctx) => access.check(req, resolvedOf(ctx, req.resource), authorizer.disclosure(callerOf(ctx), () => "access.check", (name) => resolvedOf(ctx, name))),
    lookupMembers: (req, ctx) =>
      lookups.members(req, resolvedOf(ctx, req.resource), authorizer.disclosure(callerOf(ctx), (link) => readPermission(link, "policy"), (name) => resolvedOf(ctx, name))),
    lookupResources: (req, ctx) =>
      lookups.resources(req, (chain) => authorizer.holdsIn(callerOf(ctx), chain, readPermission(chain[0]!.resource.name, "policy"))),
    getCallerIdentity: (_req, ctx) => {
      const caller = callerOf(ctx);
      return create(GetCallerIdentityResponseSchema, {
        principal: caller.principal,
        identities: [...caller.identities],
        unrestricted: authorizer.isUnrestricted(caller),
      });
    },
  };
}
