// The policy facade the RPC handlers call: validate, read the stored state, decide inside the store's write transaction.
import { SyncStatus, type Policy } from "../../gen/policy/v1/policy_pb.js";
import type {
  DeletePolicyRequest,
  EffectivePolicy,
  GetPolicyRequest,
  ListPoliciesRequest,
  LookupEffectivePolicyRequest,
  ResourcePolicy,
  SetPolicyRequest,
} from "../../gen/policy/v1/policy_service_pb.js";
import { Violations, notFound, quoted, staleEtag } from "../service-error.js";
import type { Actor, Store, StoredPolicy } from "../store/store.js";
import type { ChainDisclosure } from "./access/disclosure.js";
import { requireResourceName, typeOfName } from "./names.js";
import { compileInTurns } from "./conditions.js";
import { EffectivePolicies, resourcePolicy } from "./effective-policy.js";
import type { PageTokens } from "./page-token.js";
import { fromStore } from "./store-errors.js";
import { checkRequestedVersion, policyForVersion } from "./policy-read.js";
import { checkPolicyWrite, decidePolicyWrite } from "./policy-write.js";
import { sameEtag } from "../etag.js";
import { deepFreeze, isDeepFrozen } from "../frozen-value.js";
import { typesGranting, type ResourceSchema } from "../schema/schema.js";
import { isCustomRoleName } from "./custom-roles.js";
import type { GrantableCustomRoles } from "./binding-validation.js";
import type { Sync } from "./sync.js";


export interface PolicyPage {
  resourcePolicies: ResourcePolicy[];
  nextPageToken: string;
  /** Resources in this page's range whose stored policy does not decode: left out, named (AIP-217). */
  unreachable: string[];
}

export class Policies {
  private readonly effectivePolicies = new EffectivePolicies();

  constructor(
    private readonly store: Store,
    private readonly schema: ResourceSchema,
    private readonly pageTokens: PageTokens,
    /** Computes the sync status of what is returned (sync.ts); without it, every policy shows the stored one. */
    private readonly sync?: Sync,
    /** Told of each stored policy a listing leaves out because it does not decode (the server logs it). */
    private readonly onUnreadable?: (resource: string, cause: string) => void,
  ) {}

  /** `readStored` lets a caller that reads the resource's chain anyway (read auditing) hand over its first link. */
  async get({ resource, options }: GetPolicyRequest, readStored = () => this.store.getPolicy(resource)): Promise<Policy> {
    const requestedVersion = options?.requestedPolicyVersion ?? 0;
    checkRequestedVersion(requestedVersion, "options.requested_policy_version");
    requireResourceName(this.schema, "resource", resource);
    const stored = await readStored();
    if (!stored) throw notFound(resource);
    return this.withStatus(stored.resource, policyForVersion(stored.policy, requestedVersion));
  }

  private withStatus<P extends Policy>(resource: { name: string; type: string }, policy: P): Promise<P> | P {
    return this.sync ? this.sync.withStatus(resource, policy) : policy;
  }

  async set({ resource, policy, updateMask }: SetPolicyRequest, actor: Actor): Promise<Policy> {
    const type = requireResourceName(this.schema, "resource", resource);
    const customRoles = await this.customRolesFor(resource, policy);
    // Validated (conditions compiled, in turns) before the write transaction, which only compares etags and merges.
    await compileInTurns(policy?.bindings.map((b) => b.condition?.expression) ?? []);
    const checked = checkPolicyWrite(type, policy, updateMask, customRoles);
    const decide = (stored: StoredPolicy) => decidePolicyWrite(checked, stored.policy).policy;
    const written = await fromStore(this.store.updatePolicy(resource, decide, actor));
    return this.withStatus({ name: resource, type: type.name }, written);
  }

  /**
   * The custom roles of the resource's organization, when the policy names one: read before the write (a role deleted
   * meanwhile is harmless, its binding grants nothing; checks only honour roles of the checked resource's own root).
   */
  async customRolesFor(resource: string, policy: Policy | undefined): Promise<GrantableCustomRoles | undefined> {
    if (!policy?.bindings.some((b) => isCustomRoleName(b.role))) return undefined;
    const roles = (await this.store.ancestry(resource))?.at(-1)?.roles ?? [];
    return new Map(roles.map((role) => [role.name, typesGranting(this.schema, role.includedPermissions)]));
  }

  /**
   * `readChain` lets a caller that has already read the resource's chain hand it over; `disclosed` says what of it the
   * caller may read (undefined: all): the rest is left out and the answer is marked partial.
   */
  async lookupEffective(
    { resource, options }: LookupEffectivePolicyRequest,
    readChain = () => this.store.ancestry(resource),
    disclosed?: ChainDisclosure,
  ): Promise<EffectivePolicy> {
    const requestedVersion = options?.requestedPolicyVersion ?? 0;
    requireResourceName(this.schema, "resource", resource);
    checkRequestedVersion(requestedVersion, "options.requested_policy_version");
    const chain = await readChain();
    if (!chain) throw notFound(resource);
    const shown = disclosed ? await disclosedLinks(chain, disclosed) : chain;
    const effective = this.effectivePolicies.of(resource, shown, requestedVersion, shown !== chain);
    // The memoised (frozen) answer when no status differs from the stored one; a copy otherwise.
    if (await this.statusesAsStored(effective.policies)) return effective;
    const policies = await Promise.all(effective.policies.map((p) => this.withResourceStatus(p)));
    return policies.every((p, i) => p === effective.policies[i]) ? effective : { ...effective, policies };
  }

  /**
   * Whether every one of `listed` already shows its computed sync status: with no consumer configured a stored
   * policy's status (SUCCESS) is its computed one, and the per-policy computation is skipped.
   */
  private async statusesAsStored(listed: readonly ResourcePolicy[]): Promise<boolean> {
    if (!this.sync) return true;
    if ((await this.sync.consumers()).size > 0) return false;
    return listed.every((p) => p.policy!.syncStatus === SyncStatus.SUCCESS);
  }

  /** A listed policy with its computed sync status (the same object when it is unchanged). */
  private async withResourceStatus(listed: ResourcePolicy): Promise<ResourcePolicy> {
    const policy = await this.withStatus({ name: listed.resource, type: listed.resourceType }, listed.policy!);
    return policy === listed.policy ? listed : { ...listed, policy };
  }

  /** `parentExists` lets a caller that reads the parent's chain anyway (read auditing) answer from it. */
  async list(
    { resourceType, parent, pageSize, pageToken, syncStatuses }: ListPoliciesRequest,
    parentExists = async () => (await this.store.getResource(parent)) !== undefined,
  ): Promise<PolicyPage> {
    const violations = new Violations();
    if (resourceType === "") violations.add("resource_type", `is required; one of ${[...this.schema.types.keys()].join(", ")}`);
    else if (!this.schema.types.has(resourceType)) {
      violations.add("resource_type", `unknown type ${quoted(resourceType)}; one of ${[...this.schema.types.keys()].join(", ")}`);
    }
    if (parent !== "") {
      const parentType = typeOfName(this.schema, parent);
      if (typeof parentType === "string") violations.add("parent", parentType);
    }
    syncStatuses.forEach((status, i) => {
      if (status === SyncStatus.UNSPECIFIED || SyncStatus[status] === undefined) violations.add(`sync_statuses[${i}]`, "is not a sync status");
    });
    violations.throwIfAny();
    const wanted = new Set(syncStatuses);
    // Statuses join the filter only when given, so that the tokens of listings without them stay valid.
    const filter = JSON.stringify(["ListPolicies", resourceType, parent, ...(wanted.size ? [[...wanted].sort()] : [])]);
    // Rows whose stored policy does not decode, each with how many policies were listed before it.
    const unreadable: { name: string; listedBefore: number }[] = [];
    const page = await this.pageTokens.page(
      { pageSize, pageToken },
      filter,
      async (afterCursor, limit) => {
        if (parent !== "" && !(await parentExists())) throw notFound(parent);
        const beneath = parent || undefined;
        const listed: ResourcePolicy[] = [];
        const cursors = new Map<ResourcePolicy, string>();
        // Read on until the page is full: rows left out (another status, or unreadable) do not fill it.
        for (let after = afterCursor; listed.length < limit; ) {
          const rows = await this.store.listPolicies({ type: resourceType, beneath, afterCursor: after, limit });
          const shown = rows.map((row) => ("unreadable" in row ? undefined : listedPolicy(row)));
          const asStored = await this.statusesAsStored(shown.filter((item) => item !== undefined));
          for (const [i, row] of rows.entries()) {
            if ("unreadable" in row) {
              this.onUnreadable?.(row.resource.name, row.unreadable);
              unreadable.push({ name: row.resource.name, listedBefore: listed.length });
              continue;
            }
            const item = asStored ? shown[i]! : await this.withResourceStatus(shown[i]!);
            if (wanted.size > 0 && !wanted.has(item.policy!.syncStatus)) continue;
            cursors.set(item, row.cursor);
            if (listed.push(item) === limit) break;
          }
          if (rows.length < limit) break;
          after = rows.at(-1)!.cursor;
        }
        return listed.map((item) => ({ item, cursor: cursors.get(item)! }));
      },
      (row) => row.cursor,
    );
    // Those within this page's range; one after its last policy is the next page's.
    const last = page.nextPageToken === "" ? Infinity : page.items.length;
    return {
      resourcePolicies: page.items.map((row) => row.item),
      nextPageToken: page.nextPageToken,
      unreachable: unreadable.filter((u) => u.listedBefore < last).map((u) => u.name),
    };
  }

  /** Removes the policy; returns the etag of the (now empty) policy and the sequence of the delete. */
  async delete({ resource, etag }: DeletePolicyRequest, actor: Actor): Promise<{ etag: Uint8Array; sequence: bigint }> {
    requireResourceName(this.schema, "resource", resource);
    const decide = (stored: StoredPolicy) => {
      if (etag.length > 0 && !sameEtag(etag, stored.policy.etag)) throw staleEtag("policy");
      return undefined;
    };
    const deleted = await fromStore(this.store.updatePolicy(resource, decide, actor));
    return { etag: deleted.etag, sequence: BigInt(this.store.writtenSequence) };
  }
}

/**
 * The links of `chain` as the caller may see them: the links whose policy it may not read left out, and of the others
 * the deny rules and the shared policies it may not read. `chain` itself when nothing is left out.
 */
async function disclosedLinks(chain: readonly StoredPolicy[], disclosed: ChainDisclosure): Promise<readonly StoredPolicy[]> {
  const policies = disclosed.links(chain);
  const links = policies?.includes(false) ? chain.filter((_, i) => policies[i]) : chain;
  // Checked only where there are deny rules to show (most chains have none).
  const denies = links.some((link) => (link.deny?.rules.length ?? 0) > 0) ? disclosed.denyPolicies(chain) : undefined;
  const names = [...new Set(links.flatMap((link) => (link.shared ?? []).map((shared) => shared.name)))];
  const readable = names.length > 0 ? await disclosed.sharedPolicies(names) : undefined;
  const denyHidden = (link: StoredPolicy) => (link.deny?.rules.length ?? 0) > 0 && denies?.[chain.indexOf(link)] === false;
  const sharedHidden = (link: StoredPolicy) => readable !== undefined && (link.shared ?? []).some((p) => !readable.has(p.name));
  if (!links.some((link) => denyHidden(link) || sharedHidden(link))) return links;
  // Copies: not frozen values, so the answer is computed for this caller rather than memoised for every one.
  return links.map((link) => {
    if (!denyHidden(link) && !sharedHidden(link)) return link;
    const copy: StoredPolicy = { ...link, shared: link.shared?.filter((p) => readable?.has(p.name) ?? true) };
    if (denyHidden(link)) delete copy.deny;
    return copy;
  });
}

/**
 * A policy as a listing shows it: as stored (version 3 when conditional; a listing is not written back). Frozen and
 * memoised by the cache's frozen policy, so a page of cached policies builds nothing new and the gRPC port reuses
 * each one's encoding.
 */
function listedPolicy(stored: StoredPolicy): ResourcePolicy {
  if (!isDeepFrozen(stored.policy)) return resourcePolicy(stored, 3);
  let shown = listed.get(stored.policy);
  if (!shown || shown.resource !== stored.resource.name) {
    shown = deepFreeze(resourcePolicy(stored, 3));
    listed.set(stored.policy, shown);
  }
  return shown;
}

const listed = new WeakMap<Policy, ResourcePolicy>();
