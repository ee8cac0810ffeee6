// Helpers of the hierarchy tests: the folder schema (test/helpers/folder-schema.ts), expected failures, binding views.
import type { ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";
import { fieldViolations } from "../helpers/call-failures.js";
export { expectCode } from "../helpers/call-failures.js";
export { COLLECTION, FOLDER_SCHEMA_YAML, ROLES, writeFolderSchema, type FolderSchemaType } from "../helpers/folder-schema.js";
import type { Binding } from "../../gen/policy/v1/policy_pb.js";
import type { EffectivePolicy } from "../../gen/policy/v1/policy_service_pb.js";

/** The fields named by the google.rpc.BadRequest detail of `error`. */
export function violatedFields(error: ConnectError): string[] {
  return fieldViolations(error).map((v) => v.field);
}

/** A binding as plain data, members sorted: order-insensitive within a binding, easy to compare and to read. */
export interface BindingView {
  role: string;
  members: string[];
}

export function viewBinding(binding: Binding): BindingView {
  return { role: binding.role, members: [...binding.members].sort() };
}

/** Sorted by role, so that two views of the same bindings compare equal whatever their order. */
export function viewBindings(bindings: readonly Binding[]): BindingView[] {
  return bindings.map(viewBinding).sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
}

/** What an effective policy says, as plain data: the contributing policies in order, each with its bindings. */
export interface EffectiveView {
  resource: string;
  policies: { resource: string; bindings: BindingView[] }[];
}

/**
 * The view of an effective policy; also asserts its merged `bindings` list each contributing policy's bindings, in the
 * policies' order, each naming the resource it came from.
 */
export function viewEffective(effective: EffectivePolicy): EffectiveView {
  const fromPolicies = effective.policies.flatMap((p) =>
    p.policy!.bindings.map((b) => ({ resource: p.resource, ...viewBinding(b) })),
  );
  const merged = effective.bindings.map((b) => ({ resource: b.resource, ...viewBinding(b.binding!) }));
  expect(merged, "the merged bindings are the contributing policies' bindings, in order").toEqual(fromPolicies);
  return {
    resource: effective.resource,
    policies: effective.policies.map((p) => ({ resource: p.resource, bindings: viewBindings(p.policy!.bindings) })),
  };
}
