// Parses and validates a schema YAML file. A problem stops start-up with a message naming it and its line.
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node } from "yaml";
import { buildSchema, type ResourceSchema, type ResourceType, type Role } from "./schema.js";

const TYPE_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const COLLECTION = /^[a-z][a-zA-Z0-9]{0,62}$/;
const ROLE_NAME = /^roles\/[a-zA-Z][a-zA-Z0-9_.]{0,127}$/;
export const PERMISSION = /^[a-z][a-zA-Z0-9]{0,62}\.[a-z][a-zA-Z0-9]{0,62}$/;

export class SchemaError extends Error {
  override name = "SchemaError";
}

/** Parses schema YAML; `source` names the file in error messages. Throws SchemaError. */
export function parseSchema(text: string, source: string): ResourceSchema {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const fail = (node: Node | null | undefined, message: string): never => {
    const offset = node?.range?.[0];
    const where = offset === undefined ? "" : `:${lines.linePos(offset).line}`;
    throw new SchemaError(`schema ${source}${where}: ${message}`);
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new SchemaError(`schema ${source}:${lines.linePos(e.pos[0]).line}: ${e.message.split("\n")[0]}`);
  }
  const root = doc.contents;
  if (!isMap(root)) return fail(root, "expected a mapping with a `types` key");
  for (const item of root.items) {
    const key = String((item.key as Node & { value?: unknown }).value);
    if (key !== "types") fail(item.key as Node, `unknown key "${key}"; a schema file has only \`types\``);
  }
  const typesNode = root.get("types", true);
  if (!isMap(typesNode) || typesNode.items.length === 0) {
    return fail(typesNode ?? root, "`types` must be a non-empty mapping of type name to definition");
  }

  const types: ResourceType[] = [];
  const parentRefs: { type: string; parent: string; node: Node }[] = [];
  const collections = new Map<string, string>();
  for (const pair of typesNode.items) {
    const keyNode = pair.key as Node;
    const name = isScalar(keyNode) ? String(keyNode.value) : "";
    if (!TYPE_NAME.test(name)) fail(keyNode, `type name "${name}" must match ${TYPE_NAME}`);
    const def = pair.value as Node;
    if (!isMap(def)) return fail(def ?? keyNode, `type "${name}" must be a mapping`);
    for (const item of def.items) {
      const key = String((item.key as Node & { value?: unknown }).value);
      if (!["collection", "parents", "roles"].includes(key)) fail(item.key as Node, `type "${name}": unknown key "${key}"`);
    }

    const collectionNode = def.get("collection", true);
    const collection = isScalar(collectionNode) ? String(collectionNode.value) : "";
    if (!COLLECTION.test(collection)) fail(collectionNode ?? def, `type "${name}": collection must match ${COLLECTION}`);
    const clash = collections.get(collection);
    if (clash) fail(collectionNode, `type "${name}": collection "${collection}" is already used by type "${clash}"`);
    collections.set(collection, name);

    const parentsNode = def.get("parents", true);
    const parents: string[] = [];
    if (parentsNode !== undefined && parentsNode !== null) {
      if (!isSeq(parentsNode)) fail(parentsNode, `type "${name}": parents must be a list of type names`);
      for (const p of (parentsNode as unknown as { items: Node[] }).items) {
        const parent = isScalar(p) ? String(p.value) : "";
        parents.push(parent);
        parentRefs.push({ type: name, parent, node: p });
      }
    }

    const rolesNode = def.get("roles", true);
    if (!isMap(rolesNode) || rolesNode.items.length === 0) {
      return fail(rolesNode ?? def, `type "${name}": roles must be a non-empty mapping of role name to definition`);
    }
    const roles = new Map<string, Role>();
    for (const rolePair of rolesNode.items) {
      const roleKey = rolePair.key as Node;
      const roleName = isScalar(roleKey) ? String(roleKey.value) : "";
      if (!ROLE_NAME.test(roleName)) fail(roleKey, `type "${name}": role name "${roleName}" must match ${ROLE_NAME}`);
      const roleDef = rolePair.value as Node;
      if (!isMap(roleDef)) return fail(roleDef ?? roleKey, `role "${roleName}" of type "${name}" must be a mapping`);
      for (const item of roleDef.items) {
        const key = String((item.key as Node & { value?: unknown }).value);
        if (!["title", "description", "permissions"].includes(key)) {
          fail(item.key as Node, `role "${roleName}" of type "${name}": unknown key "${key}"`);
        }
      }
      const permsNode = roleDef.get("permissions", true);
      if (!isSeq(permsNode) || permsNode.items.length === 0) {
        return fail(permsNode ?? roleDef, `role "${roleName}" of type "${name}": permissions must be a non-empty list`);
      }
      const permissions = new Set<string>();
      for (const p of permsNode.items as Node[]) {
        const permission = isScalar(p) ? String(p.value) : "";
        if (!PERMISSION.test(permission)) {
          fail(p, `role "${roleName}" of type "${name}": permission "${permission}" must be {collection}.{verb}`);
        }
        permissions.add(permission);
      }
      roles.set(roleName, {
        name: roleName,
        title: String(roleDef.get("title") ?? ""),
        description: String(roleDef.get("description") ?? ""),
        permissions,
      });
    }
    types.push({ name, collection, parents, roles });
  }

  const names = new Set(types.map((t) => t.name));
  for (const ref of parentRefs) {
    if (!names.has(ref.parent)) fail(ref.node, `type "${ref.type}": parent type "${ref.parent}" is not defined`);
  }
  if (!types.some((t) => t.parents.length === 0)) fail(typesNode, "at least one type must be a root (no parents)");
  return buildSchema(types);
}
