// The sync facade: consumers (the downstream systems that apply policies), their acknowledgements, and the sync
// status of policies computed from them (sync-status.ts). Consumers are few; their list is read once per
// SNAPSHOT_MS at most (and again after this process changes it), so that reading a policy's status costs no query.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { SyncStatus, type Policy } from "../../gen/policy/v1/policy_pb.js";
import {
  AcknowledgeChangesResponseSchema,
  ConsumerSchema,
  ConsumerSyncStatusSchema,
  GetSyncStatusResponseSchema,
  type AcknowledgeChangesRequest,
  type AcknowledgeChangesResponse,
  type Consumer,
  type CreateConsumerRequest,
  type DeleteConsumerRequest,
  type GetConsumerRequest,
  type GetSyncStatusRequest,
  type GetSyncStatusResponse,
} from "../../gen/policy/v1/sync_service_pb.js";
import { ServiceError, Violations, notFound } from "../errors.js";
import { etagSequence } from "../store/etag.js";
import { StoreError } from "../store/errors.js";
import type { Store, StoredConsumer } from "../store/store.js";
import type { Authorizer, Caller } from "./access/authorizer.js";
import { permissionOn, requireResourceName, typeOfName } from "./names.js";
import { serviceErrorOf } from "./store-errors.js";
import type { ResourceSchema } from "./schema/schema.js";
import { covers, deliveryOf, overallStatus, type ConsumerDelivery } from "./sync-status.js";


/** How stale the list of consumers (and their acknowledgements) may be when another process changed it. */
export const SNAPSHOT_MS = 200;
const CONSUMER_NAME = /^consumers\/[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_LISTED = 1000;
const MAX_MESSAGE = 1000;
/** What managing a consumer of a subtree needs there: it changes the sync status every reader of the subtree sees. */
/** Managing a consumer needs `{collection}.setPolicy` on its subtree; reading one `{collection}.getPolicy`. */
const MANAGE_PERMISSION = "setPolicy";
const READ_PERMISSION = "getPolicy";

export class Sync {
  private snapshot: { at: number; consumers: Promise<StoredConsumer[]> } | undefined;

  constructor(
    private readonly store: Store,
    private readonly schema: ResourceSchema,
    private readonly authorizer: Authorizer,
  ) {}

  /** The consumers, at most SNAPSHOT_MS old (and never older than this process's own last change to them). */
  consumers(): Promise<StoredConsumer[]> {
    if (!this.snapshot || Date.now() - this.snapshot.at > SNAPSHOT_MS) {
      const consumers = this.store.listConsumers();
      this.snapshot = { at: Date.now(), consumers };
      consumers.catch(() => (this.snapshot = undefined));
    }
    return this.snapshot.consumers;
  }

  /**
   * `policy` (the policy of `resource`, of schema type `type`, as presented to its reader) with its computed sync
   * status: the same object when the status is the one it has, so that a shared, memoised policy stays shared in
   * the common case; a copy otherwise (never memoised: the status changes while the policy does not).
   */
  async withStatus<P extends Policy>(resource: { name: string; type: string }, policy: P): Promise<P> {
    // Without consumers every policy is delivered: no etag to parse (a page of 50 policies asks 50 times).
    const status = (await this.consumers()).length === 0 ? SyncStatus.SUCCESS : (await this.deliveries(resource, policy.etag)).status;
    return status === policy.syncStatus ? policy : { ...policy, syncStatus: status };
  }

  /** The status of the policy revision `etag` of a resource, and each covering consumer's delivery of it. */
  async deliveries(
    { name, type }: { name: string; type: string },
    etag: Uint8Array,
  ): Promise<{ status: SyncStatus; revision: number; deliveries: ConsumerDelivery[] }> {
    const revision = etagSequence(etag) ?? 0;
    const consumers = await this.consumers();
    if (consumers.length === 0) return { status: SyncStatus.SUCCESS, revision, deliveries: [] };
    const needsLineage = consumers.some((c) => c.subtree !== "" && c.subtree !== name);
    const lineage = needsLineage ? ((await this.store.ancestry(name))?.map((link) => link.resource.name) ?? [name]) : [name];
    const deliveries = consumers.filter((c) => covers(c, type, lineage)).map((c) => deliveryOf(c, name, revision));
    return { status: overallStatus(deliveries), revision, deliveries };
  }

  async status({ resource }: GetSyncStatusRequest): Promise<GetSyncStatusResponse> {
    requireResourceName(this.schema, "resource", resource);
    const stored = await this.store.getPolicy(resource);
    if (!stored) throw notFound(resource);
    const { status, revision, deliveries } = await this.deliveries(stored.resource, stored.policy.etag);
    return create(GetSyncStatusResponseSchema, {
      resource,
      policySequence: BigInt(revision),
      status,
      consumers: deliveries.map((d) =>
        create(ConsumerSyncStatusSchema, {
          consumer: d.consumer.name,
          status: d.status,
          acknowledgedSequence: BigInt(d.consumer.acknowledgedSeq),
          message: d.failure?.message ?? "",
          failedSequence: BigInt(d.failure?.seq ?? 0),
          failureTime: d.failure && timestampFromMs(d.failure.timeMs),
        }),
      ),
    });
  }

  async create({ consumer }: CreateConsumerRequest, caller: Caller): Promise<Consumer> {
    const violations = new Violations();
    if (!consumer) violations.add("consumer", "is required");
    const name = consumer?.name ?? "";
    if (consumer && !CONSUMER_NAME.test(name)) {
      violations.add("consumer.name", `"${name}" is not a consumer name: consumers/{id}, 1-63 lowercase letters, digits and '-'`);
    }
    if (consumer && consumer.displayName.length > 200) violations.add("consumer.display_name", "at most 200 characters");
    if (consumer?.subtree) {
      const type = typeOfName(this.schema, consumer.subtree);
      if (typeof type === "string") violations.add("consumer.subtree", type);
    }
    consumer?.resourceTypes.forEach((type, i) => {
      if (!this.schema.types.has(type)) violations.add(`consumer.resource_types[${i}]`, `unknown type "${type}"`);
    });
    violations.throwIfAny();
    await this.requireManage(caller, consumer!.subtree, "register a consumer of every resource");
    const stored = await this.changing(
      this.store.createConsumer(
        {
          name,
          displayName: consumer!.displayName,
          subtree: consumer!.subtree,
          resourceTypes: [...new Set(consumer!.resourceTypes)],
        },
        Date.now(),
      ),
    );
    return this.present(stored, await this.store.latestSequence());
  }

  async get({ name }: GetConsumerRequest, caller: Caller): Promise<Consumer> {
    const consumer = await this.require(name, caller, READ_PERMISSION);
    return this.present(consumer, await this.store.latestSequence());
  }

  /** The consumers whose scope the caller may read. */
  async list(caller: Caller): Promise<Consumer[]> {
    const [consumers, latest] = await Promise.all([this.store.listConsumers(), this.store.latestSequence()]);
    const listed: Consumer[] = [];
    for (const consumer of consumers) {
      if (await this.may(caller, consumer.subtree, READ_PERMISSION)) listed.push(this.present(consumer, latest));
    }
    return listed;
  }

  async delete({ name }: DeleteConsumerRequest, caller: Caller): Promise<void> {
    await this.require(name, caller, MANAGE_PERMISSION);
    await this.changing(this.store.deleteConsumer(name));
  }

  /**
   * Records a consumer's progress. Acknowledging needs what managing it needs (`{collection}.setPolicy` on its subtree): an
   * acknowledgement turns statuses to SUCCESS for every reader.
   */
  async acknowledge(request: AcknowledgeChangesRequest, caller: Caller): Promise<AcknowledgeChangesResponse> {
    const violations = new Violations();
    if (request.sequence < 0n) violations.add("sequence", "must not be negative");
    if (request.failures.length > MAX_LISTED) violations.add("failures", `at most ${MAX_LISTED}`);
    if (request.resolved.length > MAX_LISTED) violations.add("resolved", `at most ${MAX_LISTED}`);
    request.failures.forEach((f, i) => {
      if (typeof typeOfName(this.schema, f.resource) === "string") violations.add(`failures[${i}].resource`, "is not a resource name");
      if (f.sequence <= 0n || f.sequence > request.sequence) {
        violations.add(`failures[${i}].sequence`, "must be a sequence up to the acknowledged one");
      }
      if (f.message.length > MAX_MESSAGE) violations.add(`failures[${i}].message`, `at most ${MAX_MESSAGE} characters`);
    });
    violations.throwIfAny();
    await this.require(request.consumer, caller, MANAGE_PERMISSION);
    const latest = await this.store.latestSequence();
    if (request.sequence > BigInt(latest)) {
      throw new ServiceError("failed_precondition", `sequence ${request.sequence} is ahead of the change log (at ${latest})`);
    }
    const stored = await this.changing(
      this.store.acknowledgeChanges(request.consumer, {
        upTo: Number(request.sequence),
        failures: request.failures.map((f) => ({ resource: f.resource, seq: Number(f.sequence), message: f.message })),
        resolved: request.resolved,
        timeMs: Date.now(),
      }),
    );
    return create(AcknowledgeChangesResponseSchema, { consumer: this.present(stored, latest) });
  }

  /** A consumer as the API shows it; `latest` is the change log's newest sequence, for its lag. */
  present(consumer: StoredConsumer, latest: number): Consumer {
    return create(ConsumerSchema, {
      name: consumer.name,
      displayName: consumer.displayName,
      subtree: consumer.subtree,
      resourceTypes: [...consumer.resourceTypes],
      acknowledgedSequence: BigInt(consumer.acknowledgedSeq),
      acknowledgeTime: consumer.acknowledgeTimeMs === undefined ? undefined : timestampFromMs(consumer.acknowledgeTimeMs),
      createTime: timestampFromMs(consumer.createTimeMs),
      lagSequences: BigInt(Math.max(0, latest - consumer.acknowledgedSeq)),
      failureCount: consumer.failures.length,
    });
  }

  /** The consumer, when the caller holds `permission` on its subtree; NOT_FOUND otherwise, as for an absent one. */
  private async require(name: string, caller: Caller, permission: string): Promise<StoredConsumer> {
    const consumer = (await this.store.listConsumers()).find((c) => c.name === name);
    if (!consumer || !(await this.may(caller, consumer.subtree, permission))) throw consumerNotFound(name);
    return consumer;
  }

  private async may(caller: Caller, subtree: string, permission: string): Promise<boolean> {
    try {
      await this.requireManage(caller, subtree, "see consumers of every resource", permission);
      return true;
    } catch (e) {
      if (e instanceof ServiceError) return false;
      throw e;
    }
  }

  /** Administrators only for a consumer of every resource; `permission` on the subtree otherwise. */
  private async requireManage(caller: Caller, subtree: string, what: string, permission = MANAGE_PERMISSION): Promise<void> {
    if (subtree === "") this.authorizer.requireAdmin(caller, what);
    else await this.authorizer.require(caller, this.authorizer.callResources().of(subtree), permissionOn(subtree, permission));
  }

  /** A write to the consumers: its store errors in this facade's words, and the snapshot renewed after it. */
  private async changing<T>(write: Promise<T>): Promise<T> {
    try {
      return await write;
    } catch (e) {
      if (e instanceof StoreError && e.kind === "already_exists") {
        throw new ServiceError("already_exists", `consumer "${e.subject}" already exists`);
      }
      if (e instanceof StoreError && e.kind === "not_found") throw consumerNotFound(e.subject);
      throw e instanceof StoreError ? serviceErrorOf(e) : e;
    } finally {
      this.snapshot = undefined;
    }
  }
}

function consumerNotFound(name: string): ServiceError {
  return new ServiceError("not_found", `consumer "${name}" not found; register it with SyncService.CreateConsumer`);
}
