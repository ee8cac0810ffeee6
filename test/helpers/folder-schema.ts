// A schema with a recursive folder type (folders under folders, to any depth), for the hierarchy tests and the
// reverse lookups' property test: its YAML, its collections and roles, and a temporary file holding it.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeDir, tempDir } from "./temp-dir.js";

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
