// AIP-122 resource names: `{collection}/{id}`, the collection giving the type.
import type { ResourceSchema, ResourceType } from "../schema/schema.js";
import { invalidArgument, quoted } from "../service-error.js";

const ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
/** Longest resource name: a collection and a 128-character id fit well within it. */
export const MAX_NAME_LENGTH = 256;

/** The type of a resource name, or a description of what is wrong with it. */
export function typeOfName(schema: ResourceSchema, name: string): ResourceType | string {
  if (name.length > MAX_NAME_LENGTH) return `${quoted(name)} is longer than ${MAX_NAME_LENGTH} characters`;
  const slash = name.indexOf("/");
  if (slash < 0) return `${quoted(name)} is not a resource name; expected {collection}/{id}, e.g. "clouds/cld_abc123"`;
  const collection = name.slice(0, slash);
  const id = name.slice(slash + 1);
  const type = schema.typesByCollection.get(collection);
  if (!type) {
    const known = [...schema.typesByCollection.keys()].join(", ");
    return `unknown collection ${quoted(collection)} in ${quoted(name)}; known collections: ${known}`;
  }
  if (!ID.test(id)) {
    return `invalid id ${quoted(id)} in ${quoted(name)}: 1-128 letters, digits, '_', '.', '-', starting with a letter or digit`;
  }
  return type;
}

/** The collection of a resource name: `clouds` of `clouds/cld_abc123`. */
export function collectionOf(name: string): string {
  return name.slice(0, name.indexOf("/"));
}

/**
 * A method's permission on a resource, named after its collection (AIP-2511: one permission per policy method and
 * resource type): `permissionOn("clouds/c1", "getPolicy")` is `clouds.getPolicy`.
 */
export function permissionOn(name: string, verb: string): string {
  return `${collectionOf(name)}.${verb}`;
}

/** The type of `name`, or INVALID_ARGUMENT naming `field`; `type` when the name was already parsed. */
export function requireResourceName(
  schema: ResourceSchema,
  field: string,
  name: string,
  type: ResourceType | string = typeOfName(schema, name),
): ResourceType {
  if (name === "") throw invalidArgument([{ field, description: "is required" }]);
  if (typeof type === "string") throw invalidArgument([{ field, description: type }]);
  return type;
}
