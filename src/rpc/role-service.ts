// RoleService: thin adapter from RPC messages to the Roles facade.
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  ListRolesResponseSchema,
  QueryGrantableRolesResponseSchema,
  QueryTestablePermissionsResponseSchema,
  type RoleService,
} from "../../gen/policy/v1/role_service_pb.js";
import type { Authorizer } from "../domain/access/authorizer.js";
import { readPermission } from "../domain/access/read-permissions.js";
import type { Roles } from "../domain/roles.js";
import { callerOf, resolvedOf } from "./context.js";

export function roleService(roles: Roles, authorizer: Authorizer): ServiceImpl<typeof RoleService> {
  // A custom role's permissions are for those who may read it with GetRole.
  const mayRead = (ctx: HandlerContext) => async (organization: string) =>
    (await authorizer.holdsOn(callerOf(ctx), organization, [readPermission(organization, "role")]))[0]!;
  return {
    listRoles: async (req, ctx) => {
      const page = await roles.list(req, mayRead(ctx));
      return create(ListRolesResponseSchema, { roles: page.items, nextPageToken: page.nextPageToken });
    },
    getRole: (req) => roles.get(req),
    queryGrantableRoles: async (req, ctx) => {
      const page = await roles.queryGrantable(req, resolvedOf(ctx, req.resource).chain, mayRead(ctx));
      return create(QueryGrantableRolesResponseSchema, { roles: page.items, nextPageToken: page.nextPageToken });
    },
    queryTestablePermissions: async (req) => {
      const page = await roles.queryTestable(req);
      return create(QueryTestablePermissionsResponseSchema, { permissions: page.items, nextPageToken: page.nextPageToken });
    },
    createRole: (req, ctx) => roles.create(req, callerOf(ctx)),
    updateRole: (req, ctx) => roles.update(req, callerOf(ctx)),
    deleteRole: (req, ctx) => roles.delete(req, callerOf(ctx)),
    undeleteRole: (req, ctx) => roles.undelete(req, callerOf(ctx)),
  };
}
