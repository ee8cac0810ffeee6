// PolicyService: thin adapter from RPC messages to the Policies facade.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  DeletePolicyResponseSchema,
  ListPoliciesResponseSchema,
  PolicyService,
  TestIamPermissionsResponseSchema,
} from "../../gen/policy/v1/policy_service_pb.js";
import type { Authorizer } from "../domain/access/authorizer.js";
import type { Policies } from "../domain/policies.js";
import { callerOf, resolvedOf } from "./context.js";
import { readPermission } from "../domain/access/read-permissions.js";


export function policyService(policies: Policies, authorizer: Authorizer): ServiceImpl<typeof PolicyService> {
  return {
    setPolicy: (req, ctx) => policies.set(req, callerOf(ctx)),
    // The call's chain, read once and shared with read auditing; its first link is the resource's stored policy.
    getPolicy: (req, ctx) => policies.get(req, async () => (await resolvedOf(ctx, req.resource).chain())?.[0]),
    deletePolicy: async (req, ctx) => create(DeletePolicyResponseSchema, await policies.delete(req, callerOf(ctx))),
    listPolicies: async (req, ctx) =>
      create(
        ListPoliciesResponseSchema,
        await policies.list(req, async () => (await resolvedOf(ctx, req.parent).chain()) !== undefined),
      ),
    // Of the chain, only what the caller could read itself: each link's policy, deny policy and shared policies.
    lookupEffectivePolicy: (req, ctx) =>
      policies.lookupEffective(
        req,
        resolvedOf(ctx, req.resource).chain,
        authorizer.disclosure(callerOf(ctx), (link) => readPermission(link, "policy"), (name) => resolvedOf(ctx, name)),
      ),
    testIamPermissions: async (req, ctx) =>
      create(TestIamPermissionsResponseSchema, {
        permissions: await authorizer.permissionsOf(callerOf(ctx), resolvedOf(ctx, req.resource), req.permissions),
      }),
  };
}
