// Bulk import (ResourceService.ImportResources): many resources, each with an optional first policy. Items are checked
// and their policies decided first, one by one, as CreateResource and SetPolicy would; then each level of the
// hierarchy is one batch creation of the store (Store.createResources: one transaction, multi-row inserts) that writes
// the same rows the single writes would, change-log rows included (Watch, sync, the audit log and the member index see
// each one exactly as for single writes). A failing item is reported with its index and the others go on.
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { PolicySchema, type Policy } from "../../gen/policy/v1/policy_pb.js";
import type { ImportItem } from "../../gen/policy/v1/resource_service_pb.js";
import { ServiceError, quoted } from "../service-error.js";
import { StoreError } from "../store/store-error.js";
import type { Actor, NewResource, Store } from "../store/store.js";
import { compileInTurns } from "./conditions.js";
import { isCustomRoleName } from "./custom-roles.js";
import { collectionOf } from "./names.js";
import type { Policies } from "./policies.js";
import { checkPolicyWrite, decidePolicyWrite } from "./policy-write.js";
import type { GrantableCustomRoles } from "./binding-validation.js";
import type { Resources } from "./resources.js";
import type { ResourceSchema } from "../schema/schema.js";
import { serviceErrorOf } from "./store-errors.js";

/** Most items of one ImportResources request. */
export const MAX_IMPORT_ITEMS = 10_000;

/** What a new resource's policy is before its first write. */
const NO_POLICY = create(PolicySchema, { version: 1 });

/** An imported policy sets bindings and audit configs, unconditionally (its resource is new). */
const IMPORT_MASK = create(FieldMaskSchema, { paths: ["bindings", "audit_configs"] });

/** One item's failure: its index and the error its single write would have answered. */
export interface ItemFailure {
  index: number;
  error: ServiceError;
}

export interface ImportOutcome {
  imported: number;
  failures: ItemFailure[];
  /** The highest change-log sequence this store instance has written after the import. */
  sequence: number;
}

/**
 * What one item needs of its caller: `permissions` on `anchor`, its nearest ancestor that exists before the import
 * ("" for a root: an administrator). A new resource inherits its ancestors' grants, so holding them there is holding
 * them on it.
 */
export interface ItemAccess {
  index: number;
  anchor: string;
  permissions: string[];
}

/** Answers, for each item access, undefined (allowed) or the error to report. */
export type ImportAuthorizer = (accesses: readonly ItemAccess[]) => Promise<(ServiceError | undefined)[]>;

interface CheckedItem {
  index: number;
  resource: NewResource;
  /** The policy to store on it, decided. */
  policy?: Policy;
  /** The earlier item that creates this one's parent; undefined: the parent must exist already. */
  creator?: CheckedItem;
  /** The existing ancestor its permissions are checked on ("" for a root). */
  anchor: string;
  /** 0 when its parent exists already, else its creator's level + 1. */
  level: number;
}

export class Importer {
  constructor(
    private readonly store: Store,
    private readonly schema: ResourceSchema,
    private readonly resources: Resources,
    private readonly policies: Policies,
  ) {}

  async import(items: readonly ImportItem[], actor: Actor, authorize: ImportAuthorizer): Promise<ImportOutcome> {
    if (items.length > MAX_IMPORT_ITEMS) {
      throw new ServiceError(
        "resource_exhausted",
        `items: ${items.length} items; at most ${MAX_IMPORT_ITEMS.toLocaleString("en-US")} per ImportResources request: split the import`,
      );
    }
    const failures: ItemFailure[] = [];
    const fail = (index: number, error: unknown) => failures.push({ index, error: asServiceError(error) });

    // An organization's custom roles, read once per anchor (not once per item) when a policy names one.
    const customRoles = new Map<string, Promise<GrantableCustomRoles | undefined>>();
    const rolesFor = (anchor: string, policy: Policy) => {
      if (!policy.bindings.some((b) => isCustomRoleName(b.role))) return undefined;
      let roles = customRoles.get(anchor);
      if (!roles) customRoles.set(anchor, (roles = this.policies.customRolesFor(anchor, policy)));
      return roles;
    };
    // Where each item hangs: its parent is created by an earlier item of the request (`creator`), or must exist
    // already. Its anchor, where its permissions are checked, is the nearest such existing ancestor.
    const creatorOf = new Map<string, CheckedItem>();
    const checked: CheckedItem[] = [];
    for (const [index, item] of items.entries()) {
      try {
        const resource = this.resources.checkNew(item.resource);
        const creator = creatorOf.get(resource.parent);
        const anchor = creator ? creator.anchor : resource.parent;
        let policy: Policy | undefined;
        if (item.policy) {
          const type = this.schema.types.get(resource.type)!;
          const customRoles = anchor ? await rolesFor(anchor, item.policy) : undefined;
          await compileInTurns(item.policy.bindings.map((b) => b.condition?.expression));
          const checkedPolicy = checkPolicyWrite(type, { ...item.policy, etag: new Uint8Array() }, IMPORT_MASK, customRoles);
          // A new resource's stored policy is empty: the write is decided here, the store only stores it.
          policy = decidePolicyWrite(checkedPolicy, NO_POLICY).policy;
        }
        const one: CheckedItem = { index, resource, policy, creator, anchor, level: creator ? creator.level + 1 : 0 };
        checked.push(one);
        if (!creatorOf.has(resource.name)) creatorOf.set(resource.name, one);
      } catch (e) {
        fail(index, e);
      }
    }

    const accesses = checked.map(({ index, resource, policy, anchor }) => {
      const collection = collectionOf(resource.name);
      return { index, anchor, permissions: [`${collection}.create`, ...(policy ? [`${collection}.setPolicy`] : [])] };
    });
    const refusals = await authorize(accesses);
    const allowed = checked.filter((item, i) => {
      const refusal = refusals[i];
      if (refusal) fail(item.index, refusal);
      return !refusal;
    });

    // The resources with their policies, level by level (those whose parent exists, then their children, ...), each
    // level one batch creation: one transaction that writes, item after item, what CreateResource and SetPolicy
    // would (rows, change-log rows, member index). A child is written only under the parent this import created: its
    // permissions were checked on that parent's anchor, not on a resource of the same name someone else registered.
    const created = new Set<CheckedItem>();
    let imported = 0;
    for (let level = 0, rest = allowed; rest.length > 0; level++) {
      const now = rest.filter((item) => item.level === level);
      rest = rest.filter((item) => item.level !== level);
      const ready = now.filter((item) => {
        if (!item.creator || created.has(item.creator)) return true;
        const parent = item.resource.parent;
        fail(item.index, new ServiceError("not_found", `parent resource ${quoted(parent)} (item ${item.creator.index}) was not written`));
        return false;
      });
      const outcomes = await this.store.createResources(
        ready.map((item) => ({ resource: item.resource, policy: item.policy })),
        actor,
      );
      outcomes.forEach((outcome, i) => {
        const item = ready[i]!;
        if ("error" in outcome) return fail(item.index, storeError(outcome.error, item.resource.parent));
        created.add(item);
        imported++;
      });
    }
    failures.sort((a, b) => a.index - b.index);
    return { imported, failures, sequence: this.store.writtenSequence };
  }
}

/** An item's store failure as its single write would report it; the database's own failures fail the whole call. */
function storeError(error: unknown, parent?: string): ServiceError {
  if (error instanceof StoreError) {
    if (error.kind === "unavailable" || error.kind === "exhausted") throw serviceErrorOf(error, parent);
    return serviceErrorOf(error, parent);
  }
  return asServiceError(error);
}

function asServiceError(error: unknown): ServiceError {
  if (error instanceof ServiceError) return error;
  throw error;
}
