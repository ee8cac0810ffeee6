// The resource facade the RPC handlers call: names, types and the hierarchy checked against the schema; every etag
// and cycle decision made here, inside the store's write transaction.
import type { FieldMask } from "@bufbuild/protobuf/wkt";
import type { Resource } from "../../gen/policy/v1/resource_pb.js";
import type {
  CreateResourceRequest,
  DeleteResourceRequest,
  GetResourceRequest,
  ListResourcesRequest,
  UpdateResourceRequest,
} from "../../gen/policy/v1/resource_service_pb.js";
import { ServiceError, Violations, invalidArgument, notFound, quoted, staleEtag } from "../service-error.js";
import type { Actor, HierarchyReader, NewResource, ResourceChanges, Store } from "../store/store.js";
import { requireResourceName, typeOfName } from "./names.js";
import { pageSize as pageSizeOf, type PageTokens } from "./page-token.js";
import { allowsParent, type ResourceSchema, type ResourceType } from "../schema/schema.js";
import { fromStore } from "./store-errors.js";
import { SHARED_POLICY_COLLECTION } from "./shared-policies.js";
import { withArticle } from "../article.js";
import { createResource } from "../store/store.js";

export const MAX_DISPLAY_NAME = 200;
/** ListResources' `filter`: its longest text, and how many resources one filtered page examines at most. */
export const MAX_FILTER_LENGTH = 200;
export const FILTER_SCAN = 10_000;
const UPDATABLE = ["parent", "display_name"];

export interface ResourcePage {
  resources: Resource[];
  nextPageToken: string;
}

export class Resources {
  constructor(
    private readonly store: Store,
    private readonly schema: ResourceSchema,
    private readonly pageTokens: PageTokens,
  ) {}

  async create({ resource }: CreateResourceRequest, actor: Actor): Promise<Resource> {
    const created = this.checkNew(resource);
    return fromStore(createResource(this.store, created, actor), created.parent);
  }

  /** A resource to create, checked against the schema (INVALID_ARGUMENT, FAILED_PRECONDITION): what the store gets. */
  checkNew(resource: Resource | undefined): NewResource {
    if (!resource) throw invalidArgument([{ field: "resource", description: "is required" }]);
    const type = requireResourceName(this.schema, "resource.name", resource.name);
    refuseSharedPolicy(type, "CreateSharedPolicy");
    const violations = new Violations();
    this.checkParent(type, resource.parent, violations, "resource.parent");
    checkDisplayName(resource.displayName, violations);
    violations.throwIfAny();
    return { name: resource.name, parent: resource.parent, type: type.name, displayName: resource.displayName };
  }

  async get({ name }: GetResourceRequest): Promise<Resource> {
    requireResourceName(this.schema, "name", name);
    const resource = await this.store.getResource(name);
    if (!resource) throw notFound(name);
    return resource;
  }

  /**
   * `types`: the only types to list (those the caller may list under `parent`); undefined: every type. It applies
   * when the request names no type.
   */
  async list({ parent, type, pageSize, pageToken, filter: text }: ListResourcesRequest, types?: readonly ResourceType[]): Promise<ResourcePage> {
    const violations = new Violations();
    if (text.length > MAX_FILTER_LENGTH) violations.add("filter", `longer than ${MAX_FILTER_LENGTH} characters`);
    if (parent !== "") {
      const parentType = typeOfName(this.schema, parent);
      if (typeof parentType === "string") violations.add("parent", parentType);
    }
    if (type !== "" && !this.schema.types.has(type)) {
      violations.add("type", `unknown type ${quoted(type)}; known types: ${[...this.schema.types.keys()].join(", ")}`);
    }
    violations.throwIfAny();
    if (text !== "") return this.search({ parent, type, pageSize, pageToken, text }, types);
    const filter = JSON.stringify(["ListResources", parent, type]);
    const page = await this.pageTokens.page(
      { pageSize, pageToken },
      filter,
      async (afterName, limit) => {
        if (parent !== "" && !(await this.store.getResource(parent))) throw notFound(parent);
        if (type !== "" || !types) {
          return this.store.listResources({ parent: parent || undefined, type: type || undefined, afterName, limit });
        }
        // A type's names all start with `{collection}/`, so the types taken in that order list in name order.
        const rows: Resource[] = [];
        for (const t of [...types].sort((a, b) => (`${a.collection}/` < `${b.collection}/` ? -1 : 1))) {
          if (rows.length >= limit) break;
          rows.push(
            ...(await this.store.listResources({ parent: parent || undefined, type: t.name, afterName, limit: limit - rows.length })),
          );
        }
        return rows;
      },
      (resource) => resource.name,
    );
    return { resources: page.items, nextPageToken: page.nextPageToken };
  }

  /**
   * A filtered listing: the matches among at most FILTER_SCAN resources per page, so that a page costs the same
   * whatever is stored; a page that stopped there continues after the last resource it examined.
   */
  private async search(
    req: { parent: string; type: string; pageSize: number; pageToken: string; text: string },
    types?: readonly ResourceType[],
  ): Promise<ResourcePage> {
    const filter = JSON.stringify(["ListResources", req.parent, req.type, req.text]);
    const afterName = this.pageTokens.decode(req.pageToken, filter);
    const limit = pageSizeOf(req.pageSize);
    if (req.parent !== "" && !(await this.store.getResource(req.parent))) throw notFound(req.parent);
    const found = await this.store.searchResources({
      parent: req.parent || undefined,
      types: req.type ? [req.type] : types?.map((t) => t.name),
      text: req.text,
      afterName,
      limit: limit + 1,
      scan: FILTER_SCAN,
    });
    const resources = found.resources.slice(0, limit);
    const continueAfter = found.resources.length > limit ? resources.at(-1)!.name : found.scannedTo;
    return { resources, nextPageToken: continueAfter === undefined ? "" : this.pageTokens.encode(filter, continueAfter) };
  }

  async update({ resource, updateMask }: UpdateResourceRequest, actor: Actor): Promise<Resource> {
    if (!resource) throw invalidArgument([{ field: "resource", description: "is required" }]);
    const type = requireResourceName(this.schema, "resource.name", resource.name);
    refuseSharedPolicy(type, "UpdateSharedPolicy");
    const changes = this.changesOf(type, resource, updateMask);
    const decide = (current: Resource, hierarchy: HierarchyReader): ResourceChanges => {
      checkEtag(resource.etag, current);
      if (changes.parent !== undefined && changes.parent !== current.parent) refuseCycle(current.name, changes.parent, hierarchy);
      return changes;
    };
    // A move's cycle check reads the new parent's lineage: named, so that the store fetches it before `decide`.
    const reads = changes.parent !== undefined ? [changes.parent] : [];
    return fromStore(this.store.updateResource(resource.name, decide, actor, reads), changes.parent);
  }

  /** Deletes the resource (with `cascade`, its subtree); returns the names deleted and the sequence of the delete. */
  async delete({ name, etag, cascade }: DeleteResourceRequest, actor: Actor): Promise<{ deleted: string[]; sequence: bigint }> {
    refuseSharedPolicy(requireResourceName(this.schema, "name", name), "DeleteSharedPolicy");
    const decide = (current: Resource, hierarchy: HierarchyReader) => {
      checkEtag(etag, current);
      if (!cascade && hierarchy.hasChildren(name)) {
        throw new ServiceError(
          "failed_precondition",
          `resource "${name}" has children; delete them first or set cascade to delete the whole subtree`,
        );
      }
      return { cascade };
    };
    const deleted = await fromStore(this.store.deleteResource(name, decide, actor));
    return { deleted, sequence: BigInt(this.store.writtenSequence) };
  }

  private changesOf(type: ResourceType, resource: Resource, updateMask: FieldMask | undefined): ResourceChanges {
    const violations = new Violations();
    let paths = updateMask?.paths ?? [];
    if (paths.length === 0) {
      paths = [resource.parent !== "" && "parent", resource.displayName !== "" && "display_name"].filter(
        (p): p is string => typeof p === "string",
      );
      if (paths.length === 0) violations.add("update_mask", "nothing to update: set parent and/or display_name");
    }
    if (paths.includes("*")) paths = UPDATABLE;
    paths.forEach((path, i) => {
      if (!UPDATABLE.includes(path)) {
        violations.add(`update_mask.paths[${i}]`, `${quoted(path)} cannot be updated; updatable: ${UPDATABLE.join(", ")}`);
      }
    });
    const changes: ResourceChanges = {};
    if (paths.includes("parent")) {
      this.checkParent(type, resource.parent, violations, "resource.parent");
      changes.parent = resource.parent;
    }
    if (paths.includes("display_name")) {
      checkDisplayName(resource.displayName, violations);
      changes.displayName = resource.displayName;
    }
    violations.throwIfAny();
    return changes;
  }

  /** The parent's type, known from its name, must be one the schema allows for `type`. */
  private checkParent(type: ResourceType, parent: string, violations: Violations, field: string): void {
    if (parent === "") {
      if (!allowsParent(type, undefined)) {
        violations.add(field, `${withArticle(type.name)} needs a parent of type ${type.parents.join(" or ")}`);
      }
      return;
    }
    const parentType = typeOfName(this.schema, parent);
    if (typeof parentType === "string") violations.add(field, parentType);
    else if (!allowsParent(type, parentType)) {
      const allowed = type.parents.length === 0 ? "it is a root and has no parent" : `allowed: ${type.parents.join(", ")}`;
      violations.add(field, `${withArticle(type.name)} cannot be placed under ${withArticle(parentType.name)}; ${allowed}`);
    }
  }
}

/** Shared policies are resources written only through SharedPolicyService, which keeps their content with them. */
function refuseSharedPolicy(type: ResourceType, method: string): void {
  if (type.collection === SHARED_POLICY_COLLECTION) {
    throw new ServiceError("failed_precondition", `shared policies are managed with SharedPolicyService.${method}`);
  }
}

/** An etag given with a write must still be the resource's (none: unconditional). */
function checkEtag(etag: string, current: Resource): void {
  if (etag !== "" && etag !== current.etag) throw staleEtag("resource");
}

/** A resource cannot move under itself or one of its descendants. */
function refuseCycle(name: string, parent: string, hierarchy: HierarchyReader): void {
  const lineage = hierarchy.lineage(parent);
  if (lineage === undefined) throw notFound(parent, "parent resource");
  if (lineage.includes(name)) {
    throw new ServiceError(
      "invalid_argument",
      `resource.parent: moving "${name}" under "${parent}" would make a cycle (it is "${name}" or below it)`,
      [{ field: "resource.parent", description: `"${parent}" is "${name}" or one of its descendants` }],
    );
  }
}

function checkDisplayName(displayName: string, violations: Violations): void {
  if (displayName.length > MAX_DISPLAY_NAME) {
    violations.add("resource.display_name", `longer than ${MAX_DISPLAY_NAME} characters`);
  }
}
