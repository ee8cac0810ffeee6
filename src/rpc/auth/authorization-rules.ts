// What each RPC needs, by the service's own policies, keyed by the generated method descriptors. Every method of the
// policy.v1 API has a rule here: the server refuses to start when one lacks a rule, and a call of a method without
// one is refused (fail closed), so a new RPC cannot ship unprotected.
import type {
  DescMessage,
  DescMethod,
  DescMethodServerStreaming,
  DescMethodUnary,
  DescService,
  MessageShape,
} from "@bufbuild/protobuf";
import { API } from "../../api-services.js";
import { parseCustomRoleName } from "../../domain/custom-roles.js";
import type { ResourceSchema } from "../../schema/schema.js";
import { collectionOf, permissionOn } from "../../domain/names.js";
import { READ_VERB, readPermission, SHARED_POLICY_READ } from "../../domain/access/read-permissions.js";


export interface Checks {
  /** The caller needs `permission` on `resource` (NOT_FOUND when it may not see it). */
  require(resource: string, permission: string): Promise<void>;
  /** Only the server's administrators. */
  requireAdmin(what: string): void;
}

/**
 * Authorization of one method, given its request message (the single input message of a server-streaming call).
 * Client- and bidi-streaming methods cannot have a rule: one pass per call cannot cover messages not yet received.
 */
export interface AuthorizationRule<I extends DescMessage = DescMessage> {
  /** The resource a read is about: its audit configs and its ancestors' decide whether the read is logged. */
  resource?(request: MessageShape<I>): string;
  authorize(request: MessageShape<I>, checks: Checks, schema: ResourceSchema): Promise<void> | void;
}

export function rule<I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O> | DescMethodServerStreaming<I, O>,
  spec: AuthorizationRule<I>,
): [DescMethod, AuthorizationRule] {
  return [method, spec];
}

/** A policy method's own permission on a resource (AIP-2511), e.g. `clouds.setPolicy`, `projects.getDenyPolicy`. */
const policyPermission = permissionOn;

/** A custom-role method's permission, on the organization that defines the role. */
const requireOnRoleParent = (name: string, verb: string, c: Checks) => {
  const parent = parseCustomRoleName(name)?.parent;
  // A malformed name has no organization to check: the handler reports it (INVALID_ARGUMENT) without touching data.
  return parent ? c.require(parent, `${collectionOf(parent)}.${verb}`) : undefined;
};

/** A shared-policy method's permission on the shared policy: `sharedPolicies.{verb}`. */
const requireOnShared = (name: string, verb: string, c: Checks) => c.require(name, `sharedPolicies.${verb}`);

/**
 * AIP-2511's half-bindings: the half on the shared policy (`sharedPolicies.{verb}Binding`) or the half on the target
 * (`{collection}.{verb}SharedPolicyBinding`). Either one suffices; when neither is held, the policy half's refusal is
 * reported.
 */
const requireEitherHalf = async (req: { sharedPolicy: string; target: string }, policyHalf: string, targetVerb: string, c: Checks) => {
  try {
    await c.require(req.sharedPolicy, policyHalf);
  } catch (refused) {
    try {
      await c.require(req.target, permissionOn(req.target, targetVerb));
    } catch {
      throw refused;
    }
  }
};

export const AUTHORIZATION_RULES: ReadonlyMap<DescMethod, AuthorizationRule> = new Map([
  rule(API.policies.method.setPolicy, { authorize: (req, c) => c.require(req.resource, policyPermission(req.resource, "setPolicy")) }),
  rule(API.policies.method.deletePolicy, {
    authorize: (req, c) => c.require(req.resource, policyPermission(req.resource, "deletePolicy")),
  }),
  rule(API.policies.method.getPolicy, {
    resource: (req) => req.resource,
    authorize: (req, c) => c.require(req.resource, readPermission(req.resource, "policy")),
  }),
  rule(API.policies.method.lookupEffectivePolicy, {
    resource: (req) => req.resource,
    authorize: (req, c) => c.require(req.resource, policyPermission(req.resource, "lookupEffectivePolicy")),
  }),
  rule(API.policies.method.listPolicies, {
    resource: (req) => req.parent,
    authorize: (req, c) =>
      req.parent
        ? c.require(req.parent, policyPermission(req.parent, "listPolicies"))
        : c.requireAdmin("list policies without a parent"),
  }),
  rule(API.denyPolicies.method.setDenyPolicy, {
    authorize: (req, c) => c.require(req.resource, policyPermission(req.resource, "setDenyPolicy")),
  }),
  rule(API.denyPolicies.method.getDenyPolicy, {
    resource: (req) => req.resource,
    authorize: (req, c) => c.require(req.resource, readPermission(req.resource, "denyPolicy")),
  }),
  rule(API.denyPolicies.method.deleteDenyPolicy, {
    authorize: (req, c) => c.require(req.resource, policyPermission(req.resource, "deleteDenyPolicy")),
  }),
  rule(API.roles.method.listRoles, {
    resource: (req) => req.parent,
    // The predefined roles are the schema's, public to every authenticated caller (as IAM's are).
    authorize: (req, c) => (req.parent ? c.require(req.parent, `${collectionOf(req.parent)}.listRoles`) : undefined),
  }),
  rule(API.roles.method.getRole, {
    resource: (req) => parseCustomRoleName(req.name)?.parent ?? "",
    authorize: (req, c) => (req.name.startsWith("roles/") ? undefined : requireOnRoleParent(req.name, READ_VERB.role, c)),
  }),
  rule(API.roles.method.queryGrantableRoles, {
    resource: (req) => req.resource,
    authorize: (req, c) => c.require(req.resource, readPermission(req.resource, "resource")),
  }),
  rule(API.roles.method.queryTestablePermissions, {
    resource: (req) => req.resource,
    authorize: (req, c) => c.require(req.resource, readPermission(req.resource, "resource")),
  }),
  rule(API.roles.method.createRole, {
    authorize: (req, c) => (req.parent ? c.require(req.parent, `${collectionOf(req.parent)}.createRole`) : undefined),
  }),
  rule(API.roles.method.updateRole, { authorize: (req, c) => requireOnRoleParent(req.role?.name ?? "", "updateRole", c) }),
  rule(API.roles.method.deleteRole, { authorize: (req, c) => requireOnRoleParent(req.name, "deleteRole", c) }),
  rule(API.roles.method.undeleteRole, { authorize: (req, c) => requireOnRoleParent(req.name, "undeleteRole", c) }),
  // Shared policies: a permission per method, on the shared policy or (create, list) on its organization.
  rule(API.sharedPolicies.method.createSharedPolicy, { authorize: (req, c) => c.require(req.parent, "sharedPolicies.create") }),
  rule(API.sharedPolicies.method.getSharedPolicy, {
    resource: (req) => req.name,
    authorize: (req, c) => c.require(req.name, SHARED_POLICY_READ.policy),
  }),
  rule(API.sharedPolicies.method.updateSharedPolicy, {
    authorize: (req, c) => requireOnShared(req.sharedPolicy?.name ?? "", "update", c),
  }),
  rule(API.sharedPolicies.method.deleteSharedPolicy, { authorize: (req, c) => requireOnShared(req.name, "delete", c) }),
  rule(API.sharedPolicies.method.listSharedPolicies, {
    resource: (req) => req.parent,
    authorize: (req, c) => c.require(req.parent, "sharedPolicies.list"),
  }),
  // Creating a binding needs both halves; reading or deleting one needs either.
  rule(API.sharedPolicies.method.createSharedPolicyBinding, {
    authorize: async (req, c) => {
      const binding = req.binding;
      if (!binding) return;
      await c.require(binding.sharedPolicy, "sharedPolicies.createBinding");
      await c.require(binding.target, `${collectionOf(binding.target)}.createSharedPolicyBinding`);
    },
  }),
  rule(API.sharedPolicies.method.getSharedPolicyBinding, {
    resource: (req) => req.target,
    authorize: (req, c) => requireEitherHalf(req, SHARED_POLICY_READ.binding, READ_VERB.sharedPolicyBinding, c),
  }),
  rule(API.sharedPolicies.method.deleteSharedPolicyBinding, { authorize: (req, c) => requireEitherHalf(req, "sharedPolicies.deleteBinding", "deleteSharedPolicyBinding", c) }),
  rule(API.sharedPolicies.method.listSharedPolicyBindings, {
    resource: (req) => req.sharedPolicy || req.target,
    authorize: (req, c) => {
      // Neither or both: the handler refuses the request (INVALID_ARGUMENT) before reading anything.
      if ((req.sharedPolicy === "") === (req.target === "")) return;
      return req.sharedPolicy
        ? c.require(req.sharedPolicy, "sharedPolicies.listBindings")
        : c.require(req.target, `${collectionOf(req.target)}.listSharedPolicyBindings`);
    },
  }),
  // Any authenticated caller may ask who it is.
  rule(API.access.method.getCallerIdentity, { resource: () => "", authorize: () => undefined }),
  rule(API.policies.method.testIamPermissions, {
    resource: (req) => req.resource,
    // Any authenticated caller may ask about itself; visibility is checked by the handler.
    authorize: () => undefined,
  }),
  rule(API.resources.method.createResource, {
    authorize: (req, c) => {
      if (!req.resource) return;
      return req.resource.parent
        ? c.require(req.resource.parent, `${collectionOf(req.resource.name)}.create`)
        : c.requireAdmin("create a root resource");
    },
  }),
  rule(API.resources.method.importResources, {
    // Authorized per item by the handler (domain/access/import-access.ts), as CreateResource and SetPolicy would each
    // item: one refused item is reported and the others are still written.
    authorize: () => undefined,
  }),
  rule(API.resources.method.getResource, {
    resource: (req) => req.name,
    authorize: (req, c) => c.require(req.name, readPermission(req.name, "resource")),
  }),
  rule(API.resources.method.listResources, {
    resource: (req) => req.parent,
    authorize: (req, c, schema) => {
      if (!req.parent) return c.requireAdmin("list resources without a parent");
      const collection = schema.types.get(req.type)?.collection;
      // Listing one type needs its `.list`; listing every child needs to see the parent.
      return c.require(req.parent, collection ? `${collection}.list` : readPermission(req.parent, "resource"));
    },
  }),
  rule(API.resources.method.updateResource, {
    authorize: async (req, c) => {
      if (!req.resource) return;
      const collection = collectionOf(req.resource.name);
      await c.require(req.resource.name, `${collection}.update`);
      const paths = req.updateMask?.paths ?? [];
      const moves = paths.includes("parent") || paths.includes("*") || (paths.length === 0 && req.resource.parent !== "");
      // A move also creates the resource under its new parent.
      if (moves && req.resource.parent) await c.require(req.resource.parent, `${collection}.create`);
    },
  }),
  rule(API.resources.method.deleteResource, {
    authorize: (req, c) => c.require(req.name, `${collectionOf(req.name)}.delete`),
  }),
  rule(API.access.method.checkAccess, {
    resource: (req) => req.resource,
    authorize: (req, c) => c.require(req.resource, "access.check"),
  }),
  // Who has access is read from policies: the caller needs to read the resource's (the handler leaves out the
  // ancestors' it may not read).
  rule(API.access.method.lookupMembers, {
    resource: (req) => req.resource,
    authorize: (req, c) => c.require(req.resource, readPermission(req.resource, "policy")),
  }),
  // The handler lists only resources whose policies the caller may read; an ancestor it names must be one of them.
  rule(API.access.method.lookupResources, {
    resource: (req) => req.ancestor,
    authorize: (req, c) => (req.ancestor ? c.require(req.ancestor, readPermission(req.ancestor, "policy")) : undefined),
  }),
  rule(API.audit.method.listAuditEntries, {
    resource: (req) => req.resource,
    authorize: (req, c) => c.require(req.resource, "audit.list"),
  }),
  // Watch and consumers. A watcher is authorized change by change, each with the permission its own read needs here
  // (domain/watch-visibility.ts, CHANGE_VISIBILITY), so any authenticated caller may open a stream.
  rule(API.watch.method.watch, { resource: (req) => req.subtree, authorize: () => undefined }),
  // A snapshot bundles GetPolicy and the reads beside it: the root's own read here, each part's in the snapshot
  // (domain/snapshot.ts).
  rule(API.snapshots.method.snapshot, {
    resource: (req) => req.subtree,
    authorize: (req, c) => c.require(req.subtree, readPermission(req.subtree, "policy")),
  }),
  // Consumers are checked by the Sync facade against each consumer's scope ({collection}.setPolicy, or getPolicy to read).
  rule(API.sync.method.createConsumer, { authorize: () => undefined }),
  // A consumer is not a resource: reading one concerns no resource's audit configs.
  rule(API.sync.method.getConsumer, { resource: () => "", authorize: () => undefined }),
  rule(API.sync.method.listConsumers, { resource: () => "", authorize: () => undefined }),
  rule(API.sync.method.deleteConsumer, { authorize: () => undefined }),
  rule(API.sync.method.acknowledgeChanges, { authorize: () => undefined }),
  rule(API.sync.method.getSyncStatus, {
    resource: (req) => req.resource,
    authorize: (req, c) => c.require(req.resource, readPermission(req.resource, "policy")),
  }),
]);

/** The methods of `services` that have no rule. */
export function methodsWithoutAuthorizationRule(services: readonly DescService[], rules = AUTHORIZATION_RULES): DescMethod[] {
  return services.flatMap((service) => service.methods.filter((method) => !rules.has(method)));
}
