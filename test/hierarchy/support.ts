// Helpers of the hierarchy tests: a schema with a recursive folder type, expected failures, binding views.
import type { ConnectError } from "@connectrpc/connect";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { fieldViolations } from "../helpers/call-failures.js";
import { removeDir, tempDir } from "../helpers/temp-dir.js";
export { expectCode } from "../helpers/call-failures.js";
import type { Binding } from "../../gen/policy/v1/policy_pb.js";
import type { EffectivePolicy } from "../../gen/policy/v1/policy_service_pb.js";

/**
 * organization (root) > folder (under an organization or another folder, to any depth) > project (a leaf, under an
 * organization or a folder).
 */
export const FOLDER_SCHEMA_YAML = `
types:
  organization:
    collection: organizations
    parents: []
    roles:
      roles/owner:
        permissions: [organizations.get, folders.get, projects.get, policies.set]
      roles/viewer:
        permissions: [organizations.get, folders.get, projects.get]
  folder:
    collection: folders
    parents: [organization, folder]
    roles:
      roles/editor:
        permissions: [folders.get, folders.update, projects.get, projects.update]
      roles/viewer:
        permissions: [folders.get, projects.get]
  project:
    collection: projects
    parents: [organization, folder]
    roles:
      roles/editor:
        permissions: [projects.get, projects.update]
      roles/viewer:
        permissions: [projects.get]
`;

export type FolderSchemaType = "organization" | "folder" | "project";

export const COLLECTION: Record<FolderSchemaType, string> = {
  organization: "organizations",
  folder: "folders",
  project: "projects",
};

export const ROLES: Record<FolderSchemaType, readonly string[]> = {
  organization: ["roles/owner", "roles/viewer"],
  folder: ["roles/editor", "roles/viewer"],
  project: ["roles/editor", "roles/viewer"],
};

/** A temporary directory holding the folder schema; `remove` deletes it. */
export function writeFolderSchema(): { path: string; remove(): void } {
  const dir = tempDir("policy-schema-");
  const path = join(dir, "schema.yaml");
  writeFileSync(path, FOLDER_SCHEMA_YAML);
  return { path, remove: () => removeDir(dir) };
}

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
