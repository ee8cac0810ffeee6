// The access-check facade: validates a CheckAccess request and answers it from the in-memory index, which follows
// the store's change log. A write made through this server is applied before the next check reads the index;
// writes by other processes sharing the database are picked up by polling, or at once when a check asks for a
// `min_sequence` the index has not reached.
import { create, fromBinary } from "@bufbuild/protobuf";
import { timestampNow, type Value } from "@bufbuild/protobuf/wkt";
import {
  AccessState,
  CheckAccessResponseSchema,
  type CheckAccessRequest,
  type CheckAccessResponse,
} from "../../../gen/policy/v1/access_service_pb.js";
import { PolicySchema, type AuditLogConfig_LogType } from "../../../gen/policy/v1/policy_pb.js";
import { ResourceSchema } from "../../../gen/policy/v1/resource_pb.js";
import { ServiceError, Violations, notFound } from "../../errors.js";
import type { ChangeRecord, Store } from "../../store/store.js";
import { requireResourceName } from "../names.js";
import type { ResourceSchema as Schema } from "../schema/schema.js";
import { AccessIndex } from "./access-index.js";
import { Subject } from "./subject.js";

export const MAX_PERMISSIONS = 100;
const CATCH_UP_BATCH = 5000;

export class Access {
  private readonly index: AccessIndex;
  private catchingUp: Promise<void> | undefined;
  private poller: NodeJS.Timeout | undefined;

  private constructor(
    private readonly store: Store,
    private readonly schema: Schema,
  ) {
    this.index = new AccessIndex(schema);
  }

  /** Loads the index from a snapshot of the store; with `pollMs`, also follows other processes' writes. */
  static async open(store: Store, schema: Schema, pollMs = 0): Promise<Access> {
    const access = new Access(store, schema);
    access.index.sequence = await store.snapshot((entry) => {
      access.index.putResource(entry.name, entry.parent, entry.type);
      if (entry.policy) access.index.setPolicy(entry.name, entry.policy);
    });
    if (pollMs > 0) {
      access.poller = setInterval(() => void access.catchUp().catch(() => undefined), pollMs);
      access.poller.unref();
    }
    return access;
  }

  /** Resources in the in-memory index. */
  get indexedResources(): number {
    return this.index.size;
  }

  close(): void {
    clearInterval(this.poller);
  }

  async check(request: CheckAccessRequest): Promise<CheckAccessResponse> {
    requireResourceName(this.schema, "resource", request.resource);
    const violations = new Violations();
    const subject = Subject.of(request.principals, violations, "principals");
    validatePermissions(this.schema, request.permissions, violations, "permissions");
    if (request.minSequence < 0n) violations.add("min_sequence", "must not be negative");
    violations.throwIfAny();

    await this.freshAsOf(Number(request.minSequence));
    const results = this.index.check(request.resource, {
      subject,
      permissions: request.permissions,
      attributes: new Map(Object.entries(request.attributes).map(([k, v]) => [k, plainValue(v)])),
      requestTime: timestampNow(),
      explain: request.explain,
    });
    if (!results) throw notFound(request.resource);
    return create(CheckAccessResponseSchema, {
      grantedPermissions: results.filter((r) => r.state === AccessState.GRANTED).map((r) => r.permission),
      results,
      sequence: BigInt(this.index.sequence),
    });
  }

  /** Whether the audit configs on `resource` and its ancestors ask for this read to be logged. */
  auditsRead(resource: string, service: string, logType: AuditLogConfig_LogType, identities: readonly string[]): boolean {
    return this.index.auditsRead(resource, service, logType, identities);
  }

  /**
   * Whether `identities` (canonical principals, trusted) hold each of `permissions` on `resource`, from state at
   * least as fresh as this server's own writes; undefined when the resource does not exist.
   */
  async holds(resource: string, identities: readonly string[], permissions: readonly string[]): Promise<boolean[] | undefined> {
    await this.freshAsOf(0);
    const results = this.index.check(resource, {
      subject: Subject.of(identities, new Violations(), "principals"),
      permissions,
      attributes: new Map(),
      requestTime: timestampNow(),
      explain: false,
    });
    return results?.map((r) => r.state === AccessState.GRANTED);
  }

  /** Brings the index up to this server's own writes and to `minSequence`. */
  private async freshAsOf(minSequence: number): Promise<void> {
    const target = Math.max(minSequence, this.store.writtenSequence);
    if (this.index.sequence >= target) return;
    await this.catchUp();
    // The catch-up joined may have begun (read the log) before `target` was committed; one begun now cannot have.
    if (this.index.sequence < target) await this.catchUp();
    if (this.index.sequence < minSequence) {
      throw new ServiceError(
        "failed_precondition",
        `min_sequence ${minSequence} is ahead of the store (at ${this.index.sequence}); pass a sequence a write returned`,
      );
    }
  }

  /** Applies the change log since the index's sequence; concurrent callers share one catch-up. */
  private catchUp(): Promise<void> {
    this.catchingUp ??= (async () => {
      try {
        for (;;) {
          const changes = await this.store.readChanges(this.index.sequence, CATCH_UP_BATCH);
          for (const change of changes) this.apply(change);
          if (changes.length < CATCH_UP_BATCH) return;
        }
      } finally {
        this.catchingUp = undefined;
      }
    })();
    return this.catchingUp;
  }

  private apply(change: ChangeRecord): void {
    switch (change.action) {
      case "resource.create":
      case "resource.update": {
        const resource = fromBinary(ResourceSchema, change.state!);
        this.index.putResource(resource.name, resource.parent, resource.type);
        break;
      }
      case "resource.delete":
        this.index.deleteResource(change.resource);
        break;
      case "policy.set":
        this.index.setPolicy(change.resource, fromBinary(PolicySchema, change.state!));
        break;
      case "policy.delete":
        this.index.setPolicy(change.resource, undefined);
        break;
    }
    this.index.sequence = change.seq;
  }
}

/** Permissions of a request: 1 to 100, concrete, each one the schema knows (so that a typo is an error). */
export function validatePermissions(schema: Schema, permissions: readonly string[], violations: Violations, field: string): void {
  if (permissions.length === 0) violations.add(field, "name at least one permission, e.g. projects.get");
  if (permissions.length > MAX_PERMISSIONS) violations.add(field, `at most ${MAX_PERMISSIONS} per request`);
  permissions.forEach((p, i) => {
    if (p.includes("*")) {
      violations.add(`${field}[${i}]`, `"${p}": wildcards are not allowed; name concrete permissions`);
    } else if (!schema.permissions.has(p)) {
      violations.add(`${field}[${i}]`, `unknown permission "${p}"; no role of the schema grants it`);
    }
  });
}

/** google.protobuf.Value as the plain value CEL reads (numbers as double, structs as maps). */
function plainValue(value: Value): unknown {
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
