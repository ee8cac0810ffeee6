// DenyPolicyService: thin adapter from RPC messages to the DenyPolicies facade.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { DeleteDenyPolicyResponseSchema, type DenyPolicyService } from "../../gen/policy/v1/deny_policy_service_pb.js";
import type { DenyPolicies } from "../domain/deny-policies.js";
import { callerOf } from "./context.js";

export function denyPolicyService(denyPolicies: DenyPolicies): ServiceImpl<typeof DenyPolicyService> {
  return {
    setDenyPolicy: (req, ctx) => denyPolicies.set(req, callerOf(ctx)),
    getDenyPolicy: (req) => denyPolicies.get(req),
    deleteDenyPolicy: async (req, ctx) => create(DeleteDenyPolicyResponseSchema, await denyPolicies.delete(req, callerOf(ctx))),
  };
}
