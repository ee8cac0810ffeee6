// What each RPC needs, by the service's own policies. Every method of the policy.v1 API has a rule here: a method
// without one is refused (fail closed), so a new RPC cannot ship unprotected.
import type { FieldMask } from "@bufbuild/protobuf/wkt";
import type { ResourceSchema } from "../../domain/schema/schema.js";

export interface Checks {
  /** The caller needs `permission` on `resource` (NOT_FOUND when it may not see it). */
  require(resource: string, permission: string): Promise<void>;
  /** Only the server's administrators. */
  requireAdmin(what: string): void;
}

type Rule = (message: never, checks: Checks, schema: ResourceSchema) => Promise<void> | void;

const collectionOf = (name: string) => name.slice(0, name.indexOf("/"));

export const RULES: Record<string, Rule> = {
  "policy.v1.PolicyService/SetPolicy": (m: { resource: string }, c) => c.require(m.resource, "policies.set"),
  "policy.v1.PolicyService/DeletePolicy": (m: { resource: string }, c) => c.require(m.resource, "policies.set"),
  "policy.v1.PolicyService/GetPolicy": (m: { resource: string }, c) => c.require(m.resource, "policies.get"),
  "policy.v1.PolicyService/LookupEffectivePolicy": (m: { resource: string }, c) => c.require(m.resource, "policies.get"),
  "policy.v1.PolicyService/ListPolicies": (m: { parent: string }, c) =>
    m.parent ? c.require(m.parent, "policies.get") : c.requireAdmin("list policies without a parent"),
  // Any authenticated caller may ask about itself; visibility is checked by the handler.
  "policy.v1.PolicyService/TestIamPermissions": () => undefined,
  "policy.v1.ResourceService/CreateResource": (m: { resource?: { name: string; parent: string } }, c) => {
    if (!m.resource) return;
    return m.resource.parent
      ? c.require(m.resource.parent, `${collectionOf(m.resource.name)}.create`)
      : c.requireAdmin("create a root resource");
  },
  "policy.v1.ResourceService/GetResource": (m: { name: string }, c) => c.require(m.name, `${collectionOf(m.name)}.get`),
  "policy.v1.ResourceService/ListResources": (m: { parent: string; type: string }, c, schema) => {
    if (!m.parent) return c.requireAdmin("list resources without a parent");
    const collection = schema.types.get(m.type)?.collection;
    // Listing one type needs its `.list`; listing every child needs to see the parent.
    return c.require(m.parent, collection ? `${collection}.list` : `${collectionOf(m.parent)}.get`);
  },
  "policy.v1.ResourceService/UpdateResource": async (
    m: { resource?: { name: string; parent: string }; updateMask?: FieldMask },
    c,
  ) => {
    if (!m.resource) return;
    const collection = collectionOf(m.resource.name);
    await c.require(m.resource.name, `${collection}.update`);
    const paths = m.updateMask?.paths ?? [];
    const moves = paths.includes("parent") || paths.includes("*") || (paths.length === 0 && m.resource.parent !== "");
    // A move also creates the resource under its new parent.
    if (moves && m.resource.parent) await c.require(m.resource.parent, `${collection}.create`);
  },
  "policy.v1.ResourceService/DeleteResource": (m: { name: string }, c) => c.require(m.name, `${collectionOf(m.name)}.delete`),
  "policy.v1.AccessService/CheckAccess": (m: { resource: string }, c) => c.require(m.resource, "access.check"),
  "policy.v1.AuditService/ListAuditEntries": (m: { resource: string }, c) => c.require(m.resource, "audit.list"),
  // Watch and consumers (issue 15). A watcher is authorized change by change: it sees the changes of the resources
  // whose policies it may read (domain/watch.ts), so any authenticated caller may open a stream.
  "policy.v1.WatchService/Watch": () => undefined,
  // Consumers are checked by the Sync facade against each consumer's scope (policies.set, or policies.get to read).
  "policy.v1.SyncService/CreateConsumer": () => undefined,
  "policy.v1.SyncService/GetConsumer": () => undefined,
  "policy.v1.SyncService/ListConsumers": () => undefined,
  "policy.v1.SyncService/DeleteConsumer": () => undefined,
  "policy.v1.SyncService/AcknowledgeChanges": () => undefined,
  "policy.v1.SyncService/GetSyncStatus": (m: { resource: string }, c) => c.require(m.resource, "policies.get"),
};
