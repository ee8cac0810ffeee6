// Parses and validates a schema YAML file. A problem stops start-up with a message naming it and its line.
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node, type YAMLMap } from "yaml";
import { buildSchema, type ResourceSchema, type ResourceType, type Role } from "./schema.js";

const TYPE_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const COLLECTION = /^[a-z][a-zA-Z0-9]{0,62}$/;
const ROLE_NAME = /^roles\/[a-zA-Z][a-zA-Z0-9_.]{0,127}$/;
export const PERMISSION = /^[a-z][a-zA-Z0-9]{0,62}\.[a-z][a-zA-Z0-9]{0,62}$/;

export class SchemaError extends Error {
  override name = "SchemaError";
}

/** Throws the SchemaError for `node`, naming the file and the node's line. */
type Fail = (node: Node | null | undefined, message: string) => never;

interface ParentRef {
  type: string;
  parent: string;
  node: Node;
}

/** Parses schema YAML; `source` names the file in error messages. Throws SchemaError. */
export function parseSchema(text: string, source: string): ResourceSchema {
  const { root, fail } = parseYaml(text, source);
  const typesNode = typesMapping(root, fail);
  const parentRefs: ParentRef[] = [];
  const collections = new Map<string, string>();
  const types = typesNode.items.map((pair) => parseType(pair.key as Node, pair.value as Node, collections, parentRefs, fail));
  checkParentsDefined(types, parentRefs, fail);
  if (!types.some((t) => t.parents.length === 0)) fail(typesNode, "at least one type must be a root (no parents)");
  return buildSchema(types);
}

/** The YAML document's root node, and a `fail` that names lines of this text; a YAML syntax error fails here. */
function parseYaml(text: string, source: string): { root: unknown; fail: Fail } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const fail: Fail = (node, message) => {
    const offset = node?.range?.[0];
    const where = offset === undefined ? "" : `:${lines.linePos(offset).line}`;
    throw new SchemaError(`schema ${source}${where}: ${message}`);
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new SchemaError(`schema ${source}:${lines.linePos(e.pos[0]).line}: ${e.message.split("\n")[0]}`);
  }
  return { root: doc.contents, fail };
}

/** The `types` mapping, the only key of the document; it may not be empty. */
function typesMapping(root: unknown, fail: Fail): YAMLMap {
  if (!isMap(root)) return fail(root as Node, "expected a mapping with a `types` key");
  checkKeys(root, ["types"], (key) => `unknown key "${key}"; a schema file has only \`types\``, fail);
  const typesNode = root.get("types", true);
  if (!isMap(typesNode) || typesNode.items.length === 0) {
    return fail(typesNode ?? root, "`types` must be a non-empty mapping of type name to definition");
  }
  return typesNode;
}

/** Fails on the first key of `map` that is not one of `allowed`. */
function checkKeys(map: YAMLMap, allowed: readonly string[], unknown: (key: string) => string, fail: Fail): void {
  for (const item of map.items) {
    const key = String((item.key as Node & { value?: unknown }).value);
    if (!allowed.includes(key)) fail(item.key as Node, unknown(key));
  }
}

/** One type: its name, a collection no other type uses, its parents (checked later, once all are known), its roles. */
function parseType(
  keyNode: Node,
  def: Node,
  collections: Map<string, string>,
  parentRefs: ParentRef[],
  fail: Fail,
): ResourceType {
  const name = isScalar(keyNode) ? String(keyNode.value) : "";
  if (!TYPE_NAME.test(name)) fail(keyNode, `type name "${name}" must match ${TYPE_NAME}`);
  if (!isMap(def)) return fail(def ?? keyNode, `type "${name}" must be a mapping`);
  checkKeys(def, ["collection", "parents", "roles"], (key) => `type "${name}": unknown key "${key}"`, fail);
  const collection = parseCollection(name, def, collections, fail);
  const parents = parseParents(name, def, parentRefs, fail);
  const roles = parseRoles(name, def, fail);
  return { name, collection, parents, roles };
}

function parseCollection(name: string, def: YAMLMap, collections: Map<string, string>, fail: Fail): string {
  const collectionNode = def.get("collection", true);
  const collection = isScalar(collectionNode) ? String(collectionNode.value) : "";
  if (!COLLECTION.test(collection)) fail(collectionNode ?? def, `type "${name}": collection must match ${COLLECTION}`);
  const clash = collections.get(collection);
  if (clash) fail(collectionNode, `type "${name}": collection "${collection}" is already used by type "${clash}"`);
  collections.set(collection, name);
  return collection;
}

function parseParents(name: string, def: YAMLMap, parentRefs: ParentRef[], fail: Fail): string[] {
  const parentsNode = def.get("parents", true);
  const parents: string[] = [];
  if (parentsNode === undefined || parentsNode === null) return parents;
  if (!isSeq(parentsNode)) fail(parentsNode, `type "${name}": parents must be a list of type names`);
  for (const p of (parentsNode as unknown as { items: Node[] }).items) {
    const parent = isScalar(p) ? String(p.value) : "";
    parents.push(parent);
    parentRefs.push({ type: name, parent, node: p });
  }
  return parents;
}

function parseRoles(name: string, def: YAMLMap, fail: Fail): Map<string, Role> {
  const rolesNode = def.get("roles", true);
  if (!isMap(rolesNode) || rolesNode.items.length === 0) {
    return fail(rolesNode ?? def, `type "${name}": roles must be a non-empty mapping of role name to definition`);
  }
  const roles = new Map<string, Role>();
  for (const rolePair of rolesNode.items) {
    const role = parseRole(name, rolePair.key as Node, rolePair.value as Node, fail);
    roles.set(role.name, role);
  }
  return roles;
}

function parseRole(typeName: string, roleKey: Node, roleDef: Node, fail: Fail): Role {
  const roleName = isScalar(roleKey) ? String(roleKey.value) : "";
  if (!ROLE_NAME.test(roleName)) fail(roleKey, `type "${typeName}": role name "${roleName}" must match ${ROLE_NAME}`);
  const what = `role "${roleName}" of type "${typeName}"`;
  if (!isMap(roleDef)) return fail(roleDef ?? roleKey, `${what} must be a mapping`);
  checkKeys(roleDef, ["title", "description", "permissions"], (key) => `${what}: unknown key "${key}"`, fail);
  return {
    name: roleName,
    title: String(roleDef.get("title") ?? ""),
    description: String(roleDef.get("description") ?? ""),
    permissions: parsePermissions(what, roleDef, fail),
  };
}

function parsePermissions(what: string, roleDef: YAMLMap, fail: Fail): Set<string> {
  const permsNode = roleDef.get("permissions", true);
  if (!isSeq(permsNode) || permsNode.items.length === 0) {
    return fail(permsNode ?? roleDef, `${what}: permissions must be a non-empty list`);
  }
  const permissions = new Set<string>();
  for (const p of permsNode.items as Node[]) {
    const permission = isScalar(p) ? String(p.value) : "";
    if (!PERMISSION.test(permission)) fail(p, `${what}: permission "${permission}" must be {collection}.{verb}`);
    permissions.add(permission);
  }
  return permissions;
}

function checkParentsDefined(types: readonly ResourceType[], parentRefs: readonly ParentRef[], fail: Fail): void {
  const names = new Set(types.map((t) => t.name));
  for (const ref of parentRefs) {
    if (!names.has(ref.parent)) fail(ref.node, `type "${ref.type}": parent type "${ref.parent}" is not defined`);
  }
}
