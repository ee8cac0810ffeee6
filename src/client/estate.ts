// An estate: a subtree's resources, policies, deny policies, custom roles and shared policies (with their bindings),
// without volatile fields (etags, times, sync status), as `policy export` writes it and `policy apply` reads it. The
// YAML files have one stable layout and order, so an unchanged subtree exports to the same bytes and a change shows as
// a small Git diff (docs/policy-as-code.md).
import { create, equals, fromJson, toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { parse, stringify } from "yaml";
import { DenyRuleSchema, type DenyRule } from "../../gen/policy/v1/deny_policy_pb.js";
import { BindingSchema, PolicySchema, type Binding, type Policy } from "../../gen/policy/v1/policy_pb.js";
import { RoleSchema, RoleStage, type Role } from "../../gen/policy/v1/role_pb.js";

/** A resource of the estate: where it hangs, and what is attached to it. */
export interface EstateResource {
  name: string;
  /** "" for a root. */
  parent: string;
  displayName: string;
  /** Its policy (canonical bindings, audit configs, version); undefined when it has none. */
  policy?: Policy;
  /** Its deny policy's rules, in order (a rule's index is part of its identity); empty when none. */
  denyRules: DenyRule[];
}

/** A custom role of an organization in the estate (not deleted). */
export interface EstateRole {
  /** `organizations/acme/roles/viewer` */
  name: string;
  title: string;
  description: string;
  /** Sorted. */
  includedPermissions: string[];
  stage: RoleStage;
}

/** A shared policy of an organization in the estate, with the targets (in the estate) it is bound to. */
export interface EstateSharedPolicy {
  /** `sharedPolicies/{id}` */
  name: string;
  parent: string;
  displayName: string;
  description: string;
  /** Canonical. */
  bindings: Binding[];
  denyRules: DenyRule[];
  /** Sorted names of the resources it is bound to. */
  targets: string[];
  /** The shared policy's own access policy; undefined when it has none. */
  policy?: Policy;
}

export interface Estate {
  /** The root of the exported subtree. */
  subtree: string;
  /** Sorted by name. */
  resources: EstateResource[];
  /** Sorted by name. */
  roles: EstateRole[];
  /** Sorted by name. */
  sharedPolicies: EstateSharedPolicy[];
}

/** The estate format version in `estate.yaml`. */
export const ESTATE_FORMAT = 1;
export const ESTATE_MANIFEST = "estate.yaml";
const SHARED_COLLECTION = "sharedPolicies";

/** Bindings merged by role and condition, members de-duplicated and sorted, bindings sorted: one form for each set. */
export function canonicalBindings(bindings: readonly Binding[]): Binding[] {
  const merged = new Map<string, Binding>();
  for (const b of bindings) {
    const key = bindingKey(b);
    const seen = merged.get(key);
    if (seen) seen.members = [...new Set([...seen.members, ...b.members])];
    else merged.set(key, create(BindingSchema, { role: b.role, members: [...new Set(b.members)], condition: b.condition }));
  }
  for (const b of merged.values()) b.members.sort();
  return [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, b]) => b);
}

/** A binding's identity: its role and condition. */
export function bindingKey(b: Binding): string {
  const c = b.condition;
  return c ? `${b.role}\u0000${c.expression}\u0000${c.title}\u0000${c.description}\u0000${c.location}` : b.role;
}

/** A policy as an estate keeps it: canonical bindings, audit configs, version; undefined when it grants nothing. */
export function estatePolicy(policy: Policy | undefined): Policy | undefined {
  if (!policy || (policy.bindings.length === 0 && policy.auditConfigs.length === 0)) return undefined;
  const bindings = canonicalBindings(policy.bindings);
  // The server returns a policy without conditions as version 1 whatever was written.
  const version = bindings.some((b) => b.condition) ? 3 : 1;
  return create(PolicySchema, { version, bindings, auditConfigs: policy.auditConfigs });
}

/** Whether two estate policies (or their absence) are the same. */
export function samePolicy(a: Policy | undefined, b: Policy | undefined): boolean {
  const x = estatePolicy(a);
  const y = estatePolicy(b);
  if (!x || !y) return !x && !y;
  return equals(PolicySchema, x, y);
}

export function sameDenyRules(a: readonly DenyRule[], b: readonly DenyRule[]): boolean {
  return a.length === b.length && a.every((rule, i) => equals(DenyRuleSchema, rule, b[i]!));
}

// --- Files ---

/** The estate as files: relative path (with `/`) -> text, in path order. */
export function estateFiles(estate: Estate): Map<string, string> {
  const files = new Map<string, string>();
  files.set(ESTATE_MANIFEST, yaml({ format: ESTATE_FORMAT, subtree: estate.subtree }));
  for (const r of estate.resources) {
    const doc: JsonObject = { parent: r.parent };
    if (r.displayName) doc.displayName = r.displayName;
    if (r.policy) doc.policy = policyJson(r.policy);
    if (r.denyRules.length > 0) doc.denyRules = r.denyRules.map((rule) => toJson(DenyRuleSchema, rule));
    files.set(`resources/${r.name}.yaml`, yaml(doc));
  }
  for (const role of estate.roles) {
    const doc: JsonObject = { title: role.title };
    if (role.description) doc.description = role.description;
    doc.stage = RoleStage[role.stage] ?? "GA";
    doc.includedPermissions = role.includedPermissions;
    files.set(`roles/${roleParent(role.name)}/${roleId(role.name)}.yaml`, yaml(doc));
  }
  for (const sp of estate.sharedPolicies) {
    const doc: JsonObject = { parent: sp.parent };
    if (sp.displayName) doc.displayName = sp.displayName;
    if (sp.description) doc.description = sp.description;
    if (sp.bindings.length > 0) doc.bindings = sp.bindings.map((b) => toJson(BindingSchema, b));
    if (sp.denyRules.length > 0) doc.denyRules = sp.denyRules.map((rule) => toJson(DenyRuleSchema, rule));
    if (sp.targets.length > 0) doc.targets = sp.targets;
    if (sp.policy) doc.policy = policyJson(sp.policy);
    files.set(`shared-policies/${sp.name.slice(SHARED_COLLECTION.length + 1)}.yaml`, yaml(doc));
  }
  return new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A file of the estate that does not read: its path and what is wrong. */
export class EstateFileError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/** Reads an estate from its files (relative path with `/` -> text). Throws EstateFileError. */
export function parseEstateFiles(files: ReadonlyMap<string, string>): Estate {
  const manifest = files.get(ESTATE_MANIFEST);
  if (manifest === undefined) throw new EstateFileError(ESTATE_MANIFEST, "missing: not an estate directory (policy export writes one)");
  const head = mapping(ESTATE_MANIFEST, manifest, ["format", "subtree"]);
  if (head.format !== ESTATE_FORMAT) throw new EstateFileError(ESTATE_MANIFEST, `format must be ${ESTATE_FORMAT}`);
  if (typeof head.subtree !== "string" || !head.subtree.includes("/")) {
    throw new EstateFileError(ESTATE_MANIFEST, "subtree must be a resource name, e.g. organizations/acme");
  }
  const estate: Estate = { subtree: head.subtree, resources: [], roles: [], sharedPolicies: [] };
  for (const [path, text] of [...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (path === ESTATE_MANIFEST) continue;
    const parts = path.replace(/\.yaml$/, "").split("/");
    if (!path.endsWith(".yaml")) throw new EstateFileError(path, "not a .yaml file of an estate");
    if (parts[0] === "resources" && parts.length === 3) {
      const doc = mapping(path, text, ["parent", "displayName", "policy", "denyRules"]);
      estate.resources.push({
        name: `${parts[1]}/${parts[2]}`,
        parent: str(path, doc, "parent"),
        displayName: str(path, doc, "displayName"),
        policy: doc.policy === undefined ? undefined : estatePolicy(proto(path, "policy", () => fromJson(PolicySchema, doc.policy as JsonValue))),
        denyRules: list(path, doc, "denyRules").map((r, i) => proto(path, `denyRules[${i}]`, () => fromJson(DenyRuleSchema, r))),
      });
    } else if (parts[0] === "roles" && parts.length === 4) {
      const doc = mapping(path, text, ["title", "description", "stage", "includedPermissions"]);
      const stage = doc.stage === undefined ? RoleStage.GA : RoleStage[str(path, doc, "stage") as keyof typeof RoleStage];
      if (stage === undefined || stage === RoleStage.UNSPECIFIED) throw new EstateFileError(path, "stage must be GA, BETA, DEPRECATED or DISABLED");
      estate.roles.push({
        name: `${parts[1]}/${parts[2]}/roles/${parts[3]}`,
        title: str(path, doc, "title"),
        description: str(path, doc, "description"),
        includedPermissions: strings(path, doc, "includedPermissions").sort(),
        stage,
      });
    } else if (parts[0] === "shared-policies" && parts.length === 2) {
      const doc = mapping(path, text, ["parent", "displayName", "description", "bindings", "denyRules", "targets", "policy"]);
      estate.sharedPolicies.push({
        name: `${SHARED_COLLECTION}/${parts[1]}`,
        parent: str(path, doc, "parent"),
        displayName: str(path, doc, "displayName"),
        description: str(path, doc, "description"),
        bindings: canonicalBindings(list(path, doc, "bindings").map((b, i) => proto(path, `bindings[${i}]`, () => fromJson(BindingSchema, b)))),
        denyRules: list(path, doc, "denyRules").map((r, i) => proto(path, `denyRules[${i}]`, () => fromJson(DenyRuleSchema, r))),
        targets: strings(path, doc, "targets").sort(),
        policy: doc.policy === undefined ? undefined : estatePolicy(proto(path, "policy", () => fromJson(PolicySchema, doc.policy as JsonValue))),
      });
    } else {
      throw new EstateFileError(path, "not a file of an estate: expected resources/{collection}/{id}.yaml, roles/{collection}/{id}/{role}.yaml or shared-policies/{id}.yaml");
    }
  }
  return estate;
}

/** Writes the estate's files under `dir`, removing the estate files there that it no longer has. */
export function writeEstateDir(dir: string, estate: Estate): void {
  const files = estateFiles(estate);
  for (const old of listFiles(dir)) if (!files.has(old) && isEstatePath(old)) rmSync(join(dir, old));
  for (const [path, text] of files) {
    const target = join(dir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
  }
}

/** Reads the estate under `dir` (its .yaml files; other files, such as a README or .git, are left alone). */
export function readEstateDir(dir: string): Estate {
  const files = new Map<string, string>();
  for (const path of listFiles(dir)) if (isEstatePath(path)) files.set(path, readFileSync(join(dir, path), "utf8"));
  return parseEstateFiles(files);
}

function isEstatePath(path: string): boolean {
  return path === ESTATE_MANIFEST || (/^(resources|roles|shared-policies)\//.test(path) && path.endsWith(".yaml"));
}

function listFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join("/"))
    .filter((p) => !p.startsWith(".git/"));
}

function policyJson(policy: Policy): JsonObject {
  const json = toJson(PolicySchema, policy) as JsonObject;
  return { version: policy.version, bindings: json.bindings ?? [], ...(json.auditConfigs ? { auditConfigs: json.auditConfigs } : {}) };
}

function yaml(doc: JsonObject): string {
  return stringify(doc, { lineWidth: 0 });
}

function roleParent(name: string): string {
  return name.slice(0, name.indexOf("/roles/"));
}

function roleId(name: string): string {
  return name.slice(name.indexOf("/roles/") + "/roles/".length);
}

function mapping(path: string, text: string, keys: readonly string[]): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new EstateFileError(path, (e as Error).message.split("\n")[0]!);
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new EstateFileError(path, "expected a mapping");
  for (const key of Object.keys(doc)) {
    if (!keys.includes(key)) throw new EstateFileError(path, `unknown key "${key}"; expected ${keys.join(", ")}`);
  }
  return doc as Record<string, unknown>;
}

function str(path: string, doc: Record<string, unknown>, key: string): string {
  const v = doc[key] ?? "";
  if (typeof v !== "string") throw new EstateFileError(path, `${key} must be a string`);
  return v;
}

function list(path: string, doc: Record<string, unknown>, key: string): JsonValue[] {
  const v = doc[key] ?? [];
  if (!Array.isArray(v)) throw new EstateFileError(path, `${key} must be a list`);
  return v as JsonValue[];
}

function strings(path: string, doc: Record<string, unknown>, key: string): string[] {
  const v = list(path, doc, key);
  if (v.some((s) => typeof s !== "string")) throw new EstateFileError(path, `${key} must be a list of strings`);
  return [...(v as string[])];
}

function proto<T>(path: string, field: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    throw new EstateFileError(path, `${field}: ${(e as Error).message}`);
  }
}

/** A role as an estate keeps it. */
export function estateRole(role: Role): EstateRole {
  return {
    name: role.name,
    title: role.title,
    description: role.description,
    includedPermissions: [...role.includedPermissions].sort(),
    stage: role.stage === RoleStage.UNSPECIFIED ? RoleStage.GA : role.stage,
  };
}

export function sameRole(a: EstateRole, b: EstateRole): boolean {
  return (
    a.title === b.title &&
    a.description === b.description &&
    a.stage === b.stage &&
    a.includedPermissions.join("\n") === b.includedPermissions.join("\n")
  );
}

/** The role message to send for an estate role. */
export function roleMessage(role: EstateRole, etag?: Uint8Array): Role {
  return create(RoleSchema, {
    name: role.name,
    title: role.title,
    description: role.description,
    includedPermissions: role.includedPermissions,
    stage: role.stage,
    etag,
  });
}
