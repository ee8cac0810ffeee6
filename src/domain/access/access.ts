// The access-check facade: validates a CheckAccess request and answers it from the resource's chain of policies as
// the store reads it. The store's reads are fresh — they see every write acknowledged before them, by this process or
// another one sharing the database — and served from its cache when hot, so checks need no index of their own.
import { create } from "@bufbuild/protobuf";
import { timestampNow, type Value } from "@bufbuild/protobuf/wkt";
import {
  AccessState,
  CheckAccessResponseSchema,
  type CheckAccessRequest,
  type CheckAccessResponse,
  type PermissionCheck,
} from "../../../gen/policy/v1/access_service_pb.js";
import type { AuditLogConfig_LogType } from "../../../gen/policy/v1/policy_pb.js";
import { ServiceError, Violations, notFound, quoted } from "../../service-error.js";
import type { Store, StoredPolicy } from "../../store/store.js";
import { requireResourceName } from "../names.js";
import type { ResourceSchema as Schema } from "../../schema/schema.js";
import { auditsRead, checkChain } from "./chain-check.js";
import { Readable, type ChainDisclosure } from "./disclosure.js";
import { CallResources, ResolvedResource } from "./resolved.js";
import { Subject } from "./subject.js";

export const MAX_PERMISSIONS = 100;
/** Size of a CheckAccess request's attributes: characters of keys and strings, plus one per value (docs/security.md). */
export const MAX_ATTRIBUTES_SIZE = 16_384;
/** Nesting of structs and lists in the attributes. */
export const MAX_ATTRIBUTE_DEPTH = 8;
const NO_ATTRIBUTES: ReadonlyMap<string, unknown> = new Map();

export class Access {
  constructor(
    private readonly store: Pick<Store, "ancestry" | "latestSequence">,
    private readonly schema: Schema,
  ) {}

  /** The memo of one call's resources. */
  callResources(): CallResources {
    return new CallResources(this.schema, this.store);
  }

  /** One resource resolved outside a call's memo (a stream's changes, a consumer's scope). */
  resolve(name: string): ResolvedResource {
    return new ResolvedResource(name, this.schema, this.store);
  }

  /**
   * `resource` is `request.resource`, resolved; `disclosure` says what of its chain explanations may show the caller
   * (undefined: all): the links on which it holds `access.check`, and of them the deny and shared policies it may read.
   */
  async check(request: CheckAccessRequest, resource: ResolvedResource, disclosure?: ChainDisclosure): Promise<CheckAccessResponse> {
    requireResourceName(this.schema, "resource", request.resource, resource.type);
    const violations = new Violations();
    const subject = Subject.of(request.principals, violations, "principals");
    validatePermissions(this.schema, request.permissions, violations, "permissions");
    if (request.minSequence < 0n) violations.add("min_sequence", "must not be negative");
    validateAttributes(request.attributes, violations, "attributes");
    violations.throwIfAny();

    // The answer reflects at least every write up to the sequence read before the chain.
    const { sequence, chain } = await resource.readChain();
    if (request.minSequence > BigInt(sequence)) {
      // Not the store's sequence: it would tell any caller how many writes the whole service has seen.
      throw new ServiceError(
        "failed_precondition",
        `min_sequence ${request.minSequence} is ahead of the store; pass a sequence a write returned`,
      );
    }
    const shown = request.explain && chain ? disclosure?.links(chain) : undefined;
    const results =
      chain &&
      checkChain(this.schema, chain, {
        subject,
        permissions: request.permissions,
        attributes: new Map(Object.entries(request.attributes).map(([k, v]) => [k, plainValue(v)])),
        requestTime: timestampNow(),
        explain: request.explain,
        shown,
      });
    if (!results) throw notFound(request.resource);
    const leftOut = request.explain && disclosure ? await leaveOutUnreadable(results, chain!, shown, disclosure) : false;
    return create(CheckAccessResponseSchema, {
      grantedPermissions: results.filter((r) => r.state === AccessState.GRANTED).map((r) => r.permission),
      results,
      sequence: BigInt(sequence),
      partialExplanations: leftOut || (shown?.includes(false) ?? false),
    });
  }

  /** Whether the audit configs on `resource` and its ancestors ask for this read to be logged. */
  async auditsRead(
    resource: ResolvedResource,
    service: string,
    logType: AuditLogConfig_LogType,
    identities: readonly string[],
  ): Promise<boolean> {
    const chain = await resource.chain();
    return chain !== undefined && auditsRead(chain, service, logType, identities);
  }

  /**
   * Whether `identities` (canonical principals, trusted) hold each of `permissions` on `resource`; undefined when the
   * resource does not exist.
   */
  async holds(resource: ResolvedResource, identities: readonly string[], permissions: readonly string[]): Promise<boolean[] | undefined> {
    const chain = await resource.chain();
    const results =
      chain &&
      checkChain(this.schema, chain, {
        subject: Subject.of(identities, new Violations(), "principals"),
        permissions,
        attributes: NO_ATTRIBUTES,
        requestTime: timestampNow(),
        explain: false,
      });
    return results?.map((r) => r.state === AccessState.GRANTED);
  }

  /**
   * Whether `identities` hold each of `permissions` on the resource `name`, read from its chain alone (no consistency
   * token: for checks over many resources); undefined when it does not exist.
   */
  async holdsAt(name: string, identities: readonly string[], permissions: readonly string[]): Promise<boolean[] | undefined> {
    const chain = await this.store.ancestry(name);
    if (!chain) return undefined;
    const input = {
      subject: Subject.of(identities, new Violations(), "principals"),
      permissions,
      attributes: NO_ATTRIBUTES,
      requestTime: timestampNow(),
      explain: false,
    };
    return checkChain(this.schema, chain, input)?.map((r) => r.state === AccessState.GRANTED);
  }

  /** Whether `identities` hold, on each link of `chain`, the permission named for it (its chain is the rest of it). */
  holdsAlong(chain: readonly StoredPolicy[], identities: readonly string[], permissionOf: (link: string) => string): boolean[] {
    const subject = Subject.of(identities, new Violations(), "principals");
    return chain.map((link, i) => {
      const permissions = [permissionOf(link.resource.name)];
      const input = { subject, permissions, attributes: NO_ATTRIBUTES, requestTime: timestampNow(), explain: false };
      return checkChain(this.schema, chain.slice(i), input)?.[0]?.state === AccessState.GRANTED;
    });
  }

  /** Whether `identities` hold `permission` on the first link of `chain` (the resource the chain is of). */
  holdsIn(chain: readonly StoredPolicy[], identities: readonly string[], permission: string): boolean {
    return this.holdsInEach([chain], identities, permission)[0]!;
  }

  /** Whether `identities` hold `permission` on the resource each of `chains` is of (false where it is absent). */
  holdsInEach(chains: readonly (readonly StoredPolicy[] | undefined)[], identities: readonly string[], permission: string): boolean[] {
    const input = {
      subject: Subject.of(identities, new Violations(), "principals"),
      permissions: [permission],
      attributes: NO_ATTRIBUTES,
      requestTime: timestampNow(),
      explain: false,
    };
    return chains.map((chain) => chain !== undefined && checkChain(this.schema, chain, input)?.[0]?.state === AccessState.GRANTED);
  }
}

/**
 * Leaves out of the explanations of `results` (on the links `shown`, of `chain`) those of shared policies, and of the
 * links' own deny policies, that the caller may not read: a shared policy's bindings and rules name it and show its
 * content, a deny rule its description. One check per shared policy explained, and the deny policies only when one
 * of their rules is. Whether any was left out.
 */
async function leaveOutUnreadable(
  results: PermissionCheck[],
  chain: readonly StoredPolicy[],
  shown: readonly boolean[] | undefined,
  disclosure: ChainDisclosure,
): Promise<boolean> {
  const explanations = results.flatMap((r) => [...r.explanations, ...r.denyExplanations]);
  const readable = await Readable.of(chain, disclosure, shown, {
    sharedPolicies: explanations.map((e) => e.sharedPolicy),
    denyPolicies: results.some((r) => r.denyExplanations.some((d) => d.sharedPolicy === "")),
  });
  const links = new Map(chain.map((link, i) => [link.resource.name, i]));
  const sourceOf = (e: { resource: string; sharedPolicy: string }) => ({ link: links.get(e.resource)!, sharedPolicy: e.sharedPolicy });
  let leftOut = false;
  for (const result of results) {
    const bindings = result.explanations.filter((e) => readable.binding(sourceOf(e)));
    const denies = result.denyExplanations.filter((d) => readable.denyRule(sourceOf(d)));
    if (bindings.length < result.explanations.length || denies.length < result.denyExplanations.length) leftOut = true;
    result.explanations = bindings;
    result.denyExplanations = denies;
  }
  return leftOut;
}

/** Permissions of a request: 1 to 100, concrete, each one the schema knows (so that a typo is an error). */
export function validatePermissions(schema: Schema, permissions: readonly string[], violations: Violations, field: string): void {
  if (permissions.length === 0) violations.add(field, "name at least one permission, e.g. projects.get");
  if (permissions.length > MAX_PERMISSIONS) violations.add(field, `at most ${MAX_PERMISSIONS} per request`);
  permissions.forEach((p, i) => validatePermission(schema, p, violations, `${field}[${i}]`));
}

/** One concrete permission the schema knows. */
export function validatePermission(schema: Schema, permission: string, violations: Violations, field: string): void {
  if (permission === "") {
    violations.add(field, "is required, e.g. projects.get");
  } else if (permission.includes("*")) {
    violations.add(field, `${quoted(permission)}: wildcards are not allowed; name concrete permissions`);
  } else if (!schema.permissions.has(permission)) {
    violations.add(field, `unknown permission ${quoted(permission)}; no role of the schema grants it`);
  }
}

/** Attributes within MAX_ATTRIBUTES_SIZE and MAX_ATTRIBUTE_DEPTH: a condition's work grows with what it reads. */
function validateAttributes(attributes: Record<string, Value>, violations: Violations, field: string): void {
  let size = 0;
  let depth = 0;
  const measure = (value: Value, level: number): void => {
    depth = Math.max(depth, level);
    if (level > MAX_ATTRIBUTE_DEPTH || size > MAX_ATTRIBUTES_SIZE) return;
    size += 1;
    const kind = value.kind;
    if (kind.case === "stringValue") size += kind.value.length;
    else if (kind.case === "listValue") kind.value.values.forEach((v) => measure(v, level + 1));
    else if (kind.case === "structValue") {
      for (const [k, v] of Object.entries(kind.value.fields)) {
        size += k.length;
        measure(v, level + 1);
      }
    }
  };
  for (const [key, value] of Object.entries(attributes)) {
    size += key.length;
    measure(value, 1);
  }
  if (size > MAX_ATTRIBUTES_SIZE) {
    violations.add(field, `larger than ${MAX_ATTRIBUTES_SIZE} (characters of keys and strings, plus one per value)`);
  }
  if (depth > MAX_ATTRIBUTE_DEPTH) violations.add(field, `nested more than ${MAX_ATTRIBUTE_DEPTH} levels deep`);
}

/** google.protobuf.Value as the plain value CEL reads (numbers as double, structs as maps). */
export function plainValue(value: Value): unknown {
  const kind = value.kind;
  switch (kind.case) {
    case "structValue":
      return new Map(Object.entries(kind.value.fields).map(([k, v]) => [k, plainValue(v)]));
    case "listValue":
      return kind.value.values.map(plainValue);
    case "nullValue":
    case undefined:
      return null;
    default:
      return kind.value;
  }
}
