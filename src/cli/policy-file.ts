// Policy files: YAML (or JSON) in Anyscale's form (`role_name`, `principals`) or IAM's (`role`, `members`,
// `condition`, `etag`, `version`), normalised to a policy.v1.Policy. `policy get -o yaml` writes IAM's form, which
// this reads back unchanged.
import { create, fromJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { parse, stringify } from "yaml";
import { DenyRuleSchema } from "../../gen/policy/v1/deny_policy_pb.js";
import { PolicySchema, type Policy } from "../../gen/policy/v1/policy_pb.js";
import { SharedPolicySchema, type SharedPolicy } from "../../gen/policy/v1/shared_policy_pb.js";
import { CliError, LocalError } from "./command-errors.js";
import { yamlErrorText } from "./yaml-error.js";

/** `collaborator` -> `roles/collaborator`; a name with a `/` is kept. */
export function normaliseRole(role: string): string {
  const r = role.trim();
  return r.includes("/") ? r : `roles/${r}`;
}

/**
 * A member with a prefix (`user:`, `group:`, ...) or `allUsers`/`allAuthenticatedUsers` is kept; a bare email is a
 * `user:`; anything else bare, such as Anyscale's user-group id `ug_abc123`, is a `group:`.
 */
export function normaliseMember(member: string): string {
  const m = member.trim();
  if (m === "allUsers" || m === "allAuthenticatedUsers" || m.includes(":")) return m;
  return m.includes("@") ? `user:${m}` : `group:${m}`;
}

export interface PolicyFile {
  policy: Policy;
  /** Whether the file carried an etag (a conditional write). */
  hasEtag: boolean;
  /** Whether the file has audit configs (then they are written too). */
  hasAuditConfigs: boolean;
}

const TOP_KEYS = ["version", "etag", "bindings", "auditConfigs", "audit_configs"];
/** Output-only fields that `policy get` prints; a file may carry them, they are not sent. */
const OUTPUT_ONLY = ["syncStatus", "sync_status", "updateTime", "update_time"];
const BINDING_KEYS = ["role", "role_name", "roleName", "members", "principals", "condition"];
const CONDITION_KEYS = ["expression", "title", "description", "location"];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses a policy file's text; `source` names it in error messages. Throws CliError. */
export function parsePolicyFile(text: string, source: string): PolicyFile {
  const fail = (message: string): never => {
    throw new LocalError(
      `${source}: ${message}`,
      "a policy file has `bindings` (each with `role` or `role_name`, and `members` or `principals`), " +
        "and optionally `etag` and `version`",
    );
  };
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    return fail(yamlErrorText(e));
  }
  if (doc === null || doc === undefined) return fail("the file is empty");
  if (!isObject(doc)) return fail("expected a mapping with `bindings`");
  for (const key of Object.keys(doc)) {
    if (!TOP_KEYS.includes(key) && !OUTPUT_ONLY.includes(key)) {
      fail(`unknown key "${key}"; expected bindings, etag, version or audit_configs`);
    }
  }

  const rawBindings = doc.bindings ?? [];
  if (!Array.isArray(rawBindings)) return fail("`bindings` must be a list");
  const bindings = rawBindings.map((b: unknown, i: number) => normaliseBinding(b, `bindings[${i}]`, fail));

  const json: JsonObject = { bindings };
  const hasConditions = bindings.some((b) => b.condition !== undefined);
  if (doc.version !== undefined && doc.version !== null) {
    if (typeof doc.version !== "number") fail("`version` must be a number: 1, or 3 for conditions");
    json.version = doc.version as number;
  } else {
    json.version = hasConditions ? 3 : 1;
  }
  const hasEtag = doc.etag !== undefined && doc.etag !== null && doc.etag !== "";
  if (hasEtag) {
    if (typeof doc.etag !== "string") fail("`etag` must be a string, as `policy get -o yaml` prints it");
    json.etag = doc.etag as string;
  }
  const audit = doc.auditConfigs ?? doc.audit_configs;
  const hasAuditConfigs = audit !== undefined && audit !== null;
  if (hasAuditConfigs) json.auditConfigs = audit as JsonValue;

  let policy: Policy;
  try {
    policy = fromJson(PolicySchema, json);
  } catch (e) {
    return fail((e as Error).message);
  }
  return { policy, hasEtag, hasAuditConfigs };
}

function normaliseBinding(raw: unknown, at: string, fail: (message: string) => never): JsonObject & { condition?: JsonObject } {
  if (!isObject(raw)) return fail(`${at}: expected a mapping with \`role\` and \`members\``);
  for (const key of Object.keys(raw)) {
    if (!BINDING_KEYS.includes(key)) {
      fail(`${at}: unknown key "${key}"; expected role (or role_name), members (or principals), condition`);
    }
  }
  const roles = [raw.role, raw.role_name, raw.roleName].filter((r) => r !== undefined && r !== null);
  if (roles.length === 0) fail(`${at}: needs \`role\` (or Anyscale's \`role_name\`)`);
  if (roles.length > 1) fail(`${at}: give \`role\` or \`role_name\`, not both`);
  if (typeof roles[0] !== "string" || roles[0].trim() === "") fail(`${at}: the role must be a non-empty string`);
  if (raw.members !== undefined && raw.principals !== undefined) fail(`${at}: give \`members\` or \`principals\`, not both`);
  let members = raw.members ?? raw.principals ?? [];
  if (typeof members === "string") members = [members];
  if (!Array.isArray(members) || members.some((m) => typeof m !== "string")) {
    fail(`${at}: \`members\` must be a list of strings, e.g. [user:ada@example.com, ug_abc123]`);
  }
  const binding: JsonObject & { condition?: JsonObject } = {
    role: normaliseRole(roles[0] as string),
    members: (members as string[]).map(normaliseMember),
  };
  if (raw.condition !== undefined && raw.condition !== null) {
    binding.condition = normaliseCondition(raw.condition, `${at}.condition`, fail);
  }
  return binding;
}

function normaliseCondition(raw: unknown, at: string, fail: (message: string) => never): JsonObject {
  if (typeof raw === "string") return { expression: raw };
  if (!isObject(raw)) return fail(`${at}: expected a CEL expression, or a mapping with \`expression\` and \`title\``);
  for (const [key, value] of Object.entries(raw)) {
    if (!CONDITION_KEYS.includes(key)) fail(`${at}: unknown key "${key}"; expected ${CONDITION_KEYS.join(", ")}`);
    if (typeof value !== "string") fail(`${at}.${key}: must be a string`);
  }
  if (typeof raw.expression !== "string" || raw.expression.trim() === "") fail(`${at}: needs an \`expression\``);
  return raw as JsonObject;
}

export interface SharedPolicyFile {
  sharedPolicy: SharedPolicy;
  /** The fields the file sets, as UpdateSharedPolicy's update_mask paths. */
  paths: string[];
}

/** The keys a shared-policy file adds to a policy file's (`version` and `audit_configs` do not apply). */
const SHARED_KEYS: Record<string, string> = {
  display_name: "display_name",
  displayName: "display_name",
  description: "description",
  deny_rules: "deny_rules",
  denyRules: "deny_rules",
};

/**
 * A shared-policy file: a policy file's `bindings` (in either form) and `etag`, with `display_name`, `description` and
 * `deny_rules` (each rule as in `policy.v1.DenyRule`'s JSON: deniedPrincipals, deniedPermissions, ...).
 */
export function parseSharedPolicyFile(text: string, source: string): SharedPolicyFile {
  const fail = (message: string): never => {
    throw new CliError(`${source}: ${message}`, "a shared-policy file has `bindings`, `deny_rules`, `display_name`, `description` and optionally `etag`");
  };
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    return fail(yamlErrorText(e));
  }
  if (!isObject(doc)) return fail("expected a mapping with `bindings` and/or `deny_rules`");
  const rest: Record<string, unknown> = {};
  const shared: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    // Output-only fields `shared get -o yaml` prints.
    if (["name", "parent", "createTime", "create_time"].includes(key)) continue;
    if (key in SHARED_KEYS) shared[SHARED_KEYS[key]!] = value;
    else rest[key] = value;
  }
  const { policy, hasEtag } = parsePolicyFile(stringify(rest), source);
  const paths = [...Object.keys(shared), ...("bindings" in rest ? ["bindings"] : [])];
  const sharedPolicy = create(SharedPolicySchema, { bindings: policy.bindings, etag: hasEtag ? policy.etag : new Uint8Array() });
  for (const [field, value] of [["display_name", shared.display_name], ["description", shared.description]] as const) {
    if (value === undefined) continue;
    if (typeof value !== "string") fail(`\`${field}\` must be a string`);
    if (field === "display_name") sharedPolicy.displayName = value as string;
    else sharedPolicy.description = value as string;
  }
  if (shared.deny_rules !== undefined) {
    if (!Array.isArray(shared.deny_rules)) fail("`deny_rules` must be a list");
    sharedPolicy.denyRules = (shared.deny_rules as unknown[]).map((rule, i) => {
      try {
        return fromJson(DenyRuleSchema, rule as JsonValue);
      } catch (e) {
        return fail(`deny_rules[${i}]: ${(e as Error).message}`);
      }
    });
  }
  return { sharedPolicy, paths };
}
