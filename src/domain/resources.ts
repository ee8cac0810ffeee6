// The resource facade the RPC handlers call: names, types and the hierarchy checked against the schema.
import type { FieldMask } from "@bufbuild/protobuf/wkt";
import type { Resource } from "../../gen/policy/v1/resource_pb.js";
import { Violations, invalidArgument, notFound } from "../errors.js";
import type { Actor, ResourceChanges, Store } from "../store/store.js";
import { requireResourceName, typeOfName } from "./names.js";
import { PageTokens, pageSize } from "./page-token.js";
import { allowsParent, type ResourceSchema, type ResourceType } from "./schema/schema.js";

export const MAX_DISPLAY_NAME = 200;
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

  async create(resource: Resource | undefined, actor: Actor): Promise<Resource> {
    if (!resource) throw invalidArgument([{ field: "resource", description: "is required" }]);
    const type = requireResourceName(this.schema, "resource.name", resource.name);
    const violations = new Violations();
    this.checkParent(type, resource.parent, violations, "resource.parent");
    checkDisplayName(resource.displayName, violations);
    violations.throwIfAny();
    return this.store.createResource(
      { name: resource.name, parent: resource.parent, type: type.name, displayName: resource.displayName },
      actor,
    );
  }

  async get(name: string): Promise<Resource> {
    requireResourceName(this.schema, "name", name);
    const resource = await this.store.getResource(name);
    if (!resource) throw notFound(name);
    return resource;
  }

  async list(parent: string, type: string, requestedPageSize: number, pageToken: string): Promise<ResourcePage> {
    const violations = new Violations();
    if (parent !== "") {
      const parentType = typeOfName(this.schema, parent);
      if (typeof parentType === "string") violations.add("parent", parentType);
    }
    if (type !== "" && !this.schema.types.has(type)) {
      violations.add("type", `unknown type "${type}"; known types: ${[...this.schema.types.keys()].join(", ")}`);
    }
    violations.throwIfAny();
    const limit = pageSize(requestedPageSize);
    const filter = JSON.stringify(["ListResources", parent, type]);
    const afterName = this.pageTokens.decode(pageToken, filter);
    if (parent !== "" && !(await this.store.getResource(parent))) throw notFound(parent);
    const rows = await this.store.listResources({
      parent: parent || undefined,
      type: type || undefined,
      afterName,
      limit: limit + 1,
    });
    const resources = rows.slice(0, limit);
    const nextPageToken = rows.length > limit ? this.pageTokens.encode(filter, resources.at(-1)!.name) : "";
    return { resources, nextPageToken };
  }

  async update(resource: Resource | undefined, updateMask: FieldMask | undefined, actor: Actor): Promise<Resource> {
    if (!resource) throw invalidArgument([{ field: "resource", description: "is required" }]);
    const type = requireResourceName(this.schema, "resource.name", resource.name);
    const changes = this.changesOf(type, resource, updateMask);
    // The changes do not depend on the stored resource, so the store checks the etag (if any) inside its transaction.
    return this.store.updateResource(resource.name, changes, resource.etag === "" ? undefined : resource.etag, actor);
  }

  /** Deletes the resource (with `cascade`, its subtree); returns the names deleted and the sequence of the delete. */
  async delete(name: string, etag: string, cascade: boolean, actor: Actor): Promise<{ deleted: string[]; sequence: bigint }> {
    requireResourceName(this.schema, "name", name);
    const deleted = await this.store.deleteResource(name, etag === "" ? undefined : etag, cascade, actor);
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
        violations.add(`update_mask.paths[${i}]`, `"${path}" cannot be updated; updatable: ${UPDATABLE.join(", ")}`);
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
        violations.add(field, `a ${type.name} needs a parent of type ${type.parents.join(" or ")}`);
      }
      return;
    }
    const parentType = typeOfName(this.schema, parent);
    if (typeof parentType === "string") violations.add(field, parentType);
    else if (!allowsParent(type, parentType)) {
      const allowed = type.parents.length === 0 ? "it is a root and has no parent" : `allowed: ${type.parents.join(", ")}`;
      violations.add(field, `a ${type.name} cannot be placed under a ${parentType.name}; ${allowed}`);
    }
  }
}

function checkDisplayName(displayName: string, violations: Violations): void {
  if (displayName.length > MAX_DISPLAY_NAME) {
    violations.add("resource.display_name", `longer than ${MAX_DISPLAY_NAME} characters`);
  }
}
