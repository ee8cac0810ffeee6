// Small helpers shared by the integration tests: expected failures, unique names, a seeded hierarchy.
import type { ApiClients } from "../helpers/clients.js";
import { uniqueId } from "../helpers/ids.js";
export { expectCode, failureOf, fieldViolations } from "../helpers/errors.js";
export { uniqueId } from "../helpers/ids.js";

export interface Hierarchy {
  org: string;
  cloud: string;
  project: string;
}

/** Creates a fresh organization with one cloud holding one project. */
export async function createHierarchy(clients: ApiClients): Promise<Hierarchy> {
  const org = `organizations/${uniqueId("org")}`;
  const cloud = `clouds/${uniqueId("cld")}`;
  const project = `projects/${uniqueId("prj")}`;
  await clients.resources.createResource({ resource: { name: org } });
  await clients.resources.createResource({ resource: { name: cloud, parent: org } });
  await clients.resources.createResource({ resource: { name: project, parent: cloud } });
  return { org, cloud, project };
}

/** A binding of `role` to `members`. */
export function binding(role: string, ...members: string[]) {
  return { role, members };
}
