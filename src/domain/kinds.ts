// The kinds of documents attached to resources, in one registry: what each kind's body is (its protobuf encoding and
// canonical form), whether a resource without one has an empty one, and the change-log subject of its writes (Watch's
// kind and permission for each action: watch-visibility.ts, CHANGE_VISIBILITY, checked against the same list). The store
// keeps every kind in one table (documents) through the same two methods; a new attached kind is an entry here and a
// facade that calls documentOf / documentsOf / writeDocument.
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { DenyPolicySchema, type DenyPolicy } from "../../gen/policy/v1/deny_policy_pb.js";
import { RoleSchema, type Role } from "../../gen/policy/v1/role_pb.js";
import { SharedPolicyBindingSchema, SharedPolicySchema, type SharedPolicy, type SharedPolicyBinding } from "../../gen/policy/v1/shared_policy_pb.js";
import type { Resource } from "../../gen/policy/v1/resource_pb.js";
import {
  changeAction,
  type Actor,
  type AttachedDocuments,
  type ChangeAction,
  type LinkKind,
  type Store,
  type StoredDocument,
  type StoredLink,
} from "../store/store.js";

export interface DocumentKind<Desc extends DescMessage> {
  /** Its name in the store (documents.kind); never changes once stored. */
  readonly name: string;
  readonly schema: Desc;
  /**
   * Whether a resource without a stored one has an empty one (its etag: the resource's creation), as a deny policy;
   * otherwise it has none, as a custom role of an id never used.
   */
  readonly emptyByDefault: boolean;
  /** The canonical bytes stored (no etag, no update time: the store keeps those), and how many entries they hold. */
  encode(document: MessageShape<Desc>): { body: Uint8Array; entries: number };
  /** Completes a decoded document with what is not in its bytes (its resource's name, parent, creation). */
  complete(document: MessageShape<Desc>, resource: string, attached: AttachedDocuments): void;
  /** The change-log action of a write, by what was stored and what is written (undefined: deleted). */
  action(current: MessageShape<Desc> | undefined, next: MessageShape<Desc> | undefined): ChangeAction;
}

/** One deny policy per resource (key ""), its rules only. */
export const DENY_POLICY: DocumentKind<typeof DenyPolicySchema> = {
  name: "denyPolicy",
  schema: DenyPolicySchema,
  emptyByDefault: true,
  encode: (deny) => ({ body: toBinary(DenyPolicySchema, create(DenyPolicySchema, { rules: deny.rules })), entries: deny.rules.length }),
  complete: (deny, resource) => {
    deny.resource = resource;
  },
  action: (_, next) => changeAction("denyPolicy", next ? "set" : "delete"),
};

/** Custom roles, keyed by role id, on root resources (organizations); logged against the organization. */
export const ROLE: DocumentKind<typeof RoleSchema> = {
  name: "role",
  schema: RoleSchema,
  emptyByDefault: false,
  encode: (role) => ({ body: toBinary(RoleSchema, { ...role, etag: new Uint8Array(0), updateTime: undefined }), entries: 1 }),
  complete: () => {},
  action: (current, next) => {
    if (!current) return changeAction("role", "create");
    if (next!.deleted === current.deleted) return changeAction("role", "update");
    return next!.deleted ? changeAction("role", "delete") : changeAction("role", "undelete");
  },
};

/**
 * A shared policy's content (AIP-2511), a document owned by the shared policy's own resource (key ""): its name,
 * parent and creation are the resource's; its write creates and removes the resource (updateSharedPolicy).
 */
export const SHARED_POLICY: DocumentKind<typeof SharedPolicySchema> = {
  name: "sharedPolicy",
  schema: SharedPolicySchema,
  emptyByDefault: false,
  encode: ({ displayName, description, bindings, denyRules }) => ({
    body: toBinary(SharedPolicySchema, create(SharedPolicySchema, { displayName, description, bindings, denyRules })),
    entries: 1,
  }),
  complete: (policy, resource, attached) => {
    policy.name = resource;
    policy.parent = attached.parent;
    policy.createTime = timestampFromMs(attached.createTimeMs);
  },
  action: (current, next) => changeAction("sharedPolicy", !next ? "delete" : current ? "update" : "create"),
};

/** Every kind, by name. */
export const DOCUMENT_KINDS: ReadonlyMap<string, DocumentKind<DescMessage>> = new Map(
  [DENY_POLICY, ROLE, SHARED_POLICY].map((kind) => [kind.name, kind as unknown as DocumentKind<DescMessage>]),
);

function decode<Desc extends DescMessage>(
  kind: DocumentKind<Desc>,
  resource: string,
  attached: AttachedDocuments,
  stored: StoredDocument,
): MessageShape<Desc> {
  const document = fromBinary(kind.schema, stored.body);
  const fields = document as unknown as { etag: Uint8Array; updateTime: unknown };
  fields.etag = stored.etag;
  fields.updateTime = timestampFromMs(stored.updateTimeMs);
  kind.complete(document, resource, attached);
  return document;
}

/** The stored document of `key` (or the empty one, for a kind that has one); undefined: none, or no resource. */
function presentOne<Desc extends DescMessage>(
  kind: DocumentKind<Desc>,
  resource: string,
  key: string,
  attached: AttachedDocuments,
): MessageShape<Desc> | undefined {
  const stored = attached.documents.find((d) => d.key === key);
  if (stored) return decode(kind, resource, attached, stored);
  if (!kind.emptyByDefault) return undefined;
  const empty = create(kind.schema) as MessageShape<Desc>;
  (empty as unknown as { etag: Uint8Array }).etag = attached.createEtag;
  kind.complete(empty, resource, attached);
  return empty;
}

/** The document (`kind`, `key`) of `resource`: undefined when the resource does not exist (or has none). */
export async function documentOf<Desc extends DescMessage>(
  store: Store,
  kind: DocumentKind<Desc>,
  resource: string,
  key = "",
): Promise<MessageShape<Desc> | undefined> {
  const attached = await store.listDocuments(kind.name, resource, key);
  return attached && presentOne(kind, resource, key, attached);
}

/** Every document of `kind` on `resource`, by key; undefined when the resource does not exist. */
export async function documentsOf<Desc extends DescMessage>(
  store: Store,
  kind: DocumentKind<Desc>,
  resource: string,
): Promise<MessageShape<Desc>[] | undefined> {
  const attached = await store.listDocuments(kind.name, resource);
  return attached?.documents.map((stored) => decode(kind, resource, attached, stored));
}

/**
 * Writes the document (`kind`, `key`) of `resource` in one transaction: `decide` gets the stored one (the empty one
 * for a kind that has one, else undefined when there is none) and returns the document to store, or undefined to
 * delete it (its body emptied, its etag moved on). It may throw, and then nothing is written.
 */
export async function writeDocument<Desc extends DescMessage>(
  store: Store,
  kind: DocumentKind<Desc>,
  resource: string,
  key: string,
  decide: (stored: MessageShape<Desc> | undefined) => MessageShape<Desc> | undefined,
  actor: Actor,
): Promise<MessageShape<Desc>> {
  let before: AttachedDocuments | undefined;
  const written = await store.updateDocument(
    kind.name,
    resource,
    key,
    (attached) => {
      before = attached!;
      const current = presentOne(kind, resource, key, before);
      const next = decide(current);
      const { body, entries } = kind.encode(next ?? (create(kind.schema) as MessageShape<Desc>));
      const etagBefore = (current as { etag?: Uint8Array } | undefined)?.etag ?? null;
      return { body, entries, action: kind.action(current, next), etagBefore, logged: next ? body : null };
    },
    actor,
  );
  return decode(kind, resource, before!, written!);
}

// The kinds' typed entry points, for the facades (deny-policies.ts, roles.ts) and tests.

/** The deny policy of `resource` with its etag, an empty one when none is set; undefined when it does not exist. */
export function getDenyPolicy(store: Store, resource: string): Promise<DenyPolicy | undefined> {
  return documentOf(store, DENY_POLICY, resource);
}

/** As writeDocument: `decide` gets the stored deny policy (empty when none is set). */
export function updateDenyPolicy(
  store: Store,
  resource: string,
  decide: (stored: DenyPolicy) => DenyPolicy | undefined,
  actor: Actor,
): Promise<DenyPolicy> {
  return writeDocument(store, DENY_POLICY, resource, "", (stored) => decide(stored!), actor);
}

/** The shared policy of that name with its etag; undefined when there is none (or the name is not one). */
export function getSharedPolicy(store: Store, name: string): Promise<SharedPolicy | undefined> {
  return documentOf(store, SHARED_POLICY, name);
}

/** The shared policies of an organization (`parent`), by name. */
export async function listSharedPolicies(
  store: Store,
  query: { parent: string; afterName?: string; limit: number },
): Promise<SharedPolicy[]> {
  const listed = await store.listDocuments(SHARED_POLICY.name, query);
  return listed.map((attached) => presentOne(SHARED_POLICY, attached.resource, "", attached)!);
}

/**
 * What a shared-policy write's `decide` gets, inside the write's transaction: the stored shared policy (undefined when
 * there is none of the name) and how many resources it is bound to.
 */
export interface SharedPolicyState {
  stored: SharedPolicy | undefined;
  bindingCount: number;
  /**
   * The change-log sequence of its newest binding (0 when it has none): a binding created after a caller's rights on
   * the targets were checked has a higher one.
   */
  newestBinding: number;
}

/**
 * What a shared-policy write's `decide` returns: the shared policy to store (its parent, display name, description,
 * bindings and deny rules; a new one is registered as a resource of type `type` under its parent), or `delete` —
 * with `unbind`, the policy's bindings go with it (one `sharedPolicyBinding.delete` change-log row each).
 */
export type SharedPolicyWrite = { policy: SharedPolicy; type: string } | { delete: true; unbind: boolean };

/**
 * Creates, replaces or deletes the shared policy `name` (an owned document, Store.updateDocument): logged against
 * `name` (`sharedPolicy.create`, `.update`, `.delete`; a forced delete first logs one `sharedPolicyBinding.delete`
 * against each target); its bindings' members and roles are its member-index rows. already_exists when a resource
 * other than a shared policy has the name; not_found when the parent does not exist. Returns the stored policy
 * (undefined: deleted).
 */
export async function updateSharedPolicy(
  store: Store,
  name: string,
  decide: (state: SharedPolicyState) => SharedPolicyWrite,
  actor: Actor,
): Promise<SharedPolicy | undefined> {
  let before: AttachedDocuments | undefined;
  let parent = "";
  const written = await store.updateDocument(
    SHARED_POLICY.name,
    name,
    "",
    (attached, links) => {
      before = attached;
      const stored = attached && presentOne(SHARED_POLICY, name, "", attached);
      const write = decide({ stored, bindingCount: links.count, newestBinding: links.newest });
      const action = SHARED_POLICY.action(stored, "delete" in write ? undefined : write.policy);
      if ("delete" in write) {
        const unlink = write.unbind ? SHARED_POLICY_BINDING.name : undefined;
        return { remove: true, action, etagBefore: stored?.etag ?? null, unlink };
      }
      parent = write.policy.parent;
      const { body, entries } = SHARED_POLICY.encode(write.policy);
      return {
        body,
        entries,
        action,
        etagBefore: stored?.etag ?? null,
        logged: body,
        grants: grantsOf(write.policy.bindings),
        create: attached ? undefined : { parent, type: write.type },
      };
    },
    actor,
    { owned: true, linksFrom: SHARED_POLICY_BINDING.name },
  );
  if (!written) return undefined;
  // A new one's resource was created with it: its creation is the document's.
  const attached = before ?? { createEtag: written.etag, parent, createTimeMs: written.updateTimeMs, documents: [] };
  return decode(SHARED_POLICY, name, attached, written);
}

/** Each (member, role) pair that bindings grant, once. */
function grantsOf(bindings: readonly { role: string; members: readonly string[] }[]): { member: string; role: string }[] {
  const pairs = new Map<string, { member: string; role: string }>();
  for (const { role, members } of bindings) {
    for (const member of members) pairs.set(`${member}\u0000${role}`, { member, role });
  }
  return [...pairs.values()];
}

/** The custom roles defined on `parent` (deleted ones included), by id; undefined when it does not exist. */
export function listRoles(store: Store, parent: string): Promise<Role[] | undefined> {
  return documentsOf(store, ROLE, parent);
}

/** As writeDocument: creates or replaces the custom role `roleId` of `parent`. */
export function updateRole(
  store: Store,
  parent: string,
  roleId: string,
  decide: (stored: Role | undefined) => Role,
  actor: Actor,
): Promise<Role> {
  return writeDocument(store, ROLE, parent, roleId, decide, actor);
}

// Links between resources: the kinds, and their typed entry points.

/** Shared-policy bindings: links from a shared policy's resource (holding its SHARED_POLICY document) to a target. */
export const SHARED_POLICY_BINDING: LinkKind = { name: "sharedPolicyBinding", from: SHARED_POLICY.name };

/** What a binding write's `decide` gets, inside the write's transaction. */
export interface SharedPolicyBindingState {
  /** The binding when the two are bound. */
  stored: SharedPolicyBinding | undefined;
  sharedPolicy: SharedPolicy;
  target: Resource;
  /** The target and its ancestors' names, from it up to its root. */
  targetLineage: readonly string[];
  /** How many shared policies are bound to the target. */
  boundToTarget: number;
  /** How many resources the shared policy is bound to. */
  policyBindings: number;
}

export function bindingOf(link: StoredLink): SharedPolicyBinding {
  return create(SharedPolicyBindingSchema, {
    sharedPolicy: link.from,
    target: link.to,
    createTime: timestampFromMs(link.createTimeMs),
    sequence: BigInt(link.sequence),
  });
}

/**
 * The bindings of a shared policy (ordered by target name), or of a target (ordered by shared-policy name); both: at
 * most the one binding. `afterName`: only those whose other end's name is greater.
 */
export async function listBindings(
  store: Store,
  query: { sharedPolicy?: string; target?: string; afterName?: string; limit: number },
): Promise<SharedPolicyBinding[]> {
  const { sharedPolicy: from, target: to, afterName, limit } = query;
  return (await store.listLinks(SHARED_POLICY_BINDING.name, { from, to, afterName, limit })).map(bindingOf);
}

/**
 * Binds (`decide` returns true) or unbinds (false) `sharedPolicy` and `target` (Store.updateLink); returns the binding
 * as created, or as it was before the delete; undefined when unbinding what was not bound.
 */
export async function updateBinding(
  store: Store,
  sharedPolicy: string,
  target: string,
  decide: (state: SharedPolicyBindingState) => boolean,
  actor: Actor,
): Promise<SharedPolicyBinding | undefined> {
  const link = await store.updateLink(
    SHARED_POLICY_BINDING,
    sharedPolicy,
    target,
    (state) =>
      decide({
        stored: state.stored && bindingOf(state.stored),
        sharedPolicy: presentOne(SHARED_POLICY, sharedPolicy, "", state.from)!,
        target: state.to,
        targetLineage: state.toLineage,
        boundToTarget: state.linksTo,
        policyBindings: state.linksFrom,
      }),
    actor,
  );
  return link && bindingOf(link);
}
