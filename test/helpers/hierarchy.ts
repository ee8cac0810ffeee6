// A fresh organization > cloud > project, the shape most tests start from.
import type { ApiClients } from "./clients.js";
import { uniqueId } from "./ids.js";

export interface Hierarchy {
  org: string;
  cloud: string;
  project: string;
}

/** Creates a fresh organization with one cloud holding one project. */
export async function createHierarchy(clients: Pick<ApiClients, "resources">): Promise<Hierarchy> {
  const org = `organizations/${uniqueId("org")}`;
  const cloud = `clouds/${uniqueId("cld")}`;
  const project = `projects/${uniqueId("prj")}`;
  await clients.resources.createResource({ resource: { name: org } });
  await clients.resources.createResource({ resource: { name: cloud, parent: org } });
  await clients.resources.createResource({ resource: { name: project, parent: cloud } });
  return { org, cloud, project };
}
