// SharedPolicyService: thin adapter from RPC messages to the SharedPolicies facade.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  DeleteSharedPolicyBindingResponseSchema,
  DeleteSharedPolicyResponseSchema,
  ListSharedPoliciesResponseSchema,
  ListSharedPolicyBindingsResponseSchema,
  type SharedPolicyService,
} from "../../gen/policy/v1/shared_policy_service_pb.js";
import type { SharedPolicies } from "../domain/shared-policies.js";
import { callerOf } from "./context.js";

export function sharedPolicyService(shared: SharedPolicies): ServiceImpl<typeof SharedPolicyService> {
  return {
    createSharedPolicy: (req, ctx) => shared.create(req, callerOf(ctx)),
    getSharedPolicy: (req) => shared.get(req),
    updateSharedPolicy: (req, ctx) => shared.update(req, callerOf(ctx)),
    deleteSharedPolicy: async (req, ctx) => create(DeleteSharedPolicyResponseSchema, await shared.delete(req, callerOf(ctx))),
    listSharedPolicies: async (req) => create(ListSharedPoliciesResponseSchema, await shared.list(req)),
    createSharedPolicyBinding: (req, ctx) => shared.createBinding(req, callerOf(ctx)),
    getSharedPolicyBinding: (req) => shared.getBinding(req),
    deleteSharedPolicyBinding: async (req, ctx) =>
      create(DeleteSharedPolicyBindingResponseSchema, await shared.deleteBinding(req, callerOf(ctx))),
    listSharedPolicyBindings: async (req, ctx) =>
      create(ListSharedPolicyBindingsResponseSchema, await shared.listBindings(req, callerOf(ctx))),
  };
}
