// The sync facade: consumers (the downstream systems that apply policies), their acknowledgements, and the sync
// status of policies computed from them (sync-status.ts). The consumers are kept in memory, indexed by subtree
// (consumer-index.ts): what changed is read at most once per SNAPSHOT_MS (and after this process changes them), so a
// policy's status costs no query unless a consumer covering it has failures. Their number, their failures and the
// size of an acknowledgement are bounded (consumer-limits.ts); a failure must be in its consumer's scope
// (consumer-scope.ts).
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
import { ServiceError, Violations, notFound, quoted } from "../service-error.js";
import { etagSequence } from "../etag.js";
import { StoreError } from "../store/store-error.js";
import type { Store, StoredConsumer } from "../store/store.js";
import type { Authorizer, Caller } from "./access/authorizer.js";
import { permissionOn, requireResourceName, typeOfName } from "./names.js";
import { READ_VERB } from "./access/read-permissions.js";
import { serviceErrorOf } from "./store-errors.js";
import type { ResourceSchema, ResourceType } from "../schema/schema.js";
import { ConsumerIndex } from "./consumer-index.js";
import { CONSUMER_LIMITS, tooLongAcknowledgement, tooManyConsumers, tooManyFailures, type ConsumerLimits } from "./consumer-limits.js";
import { failuresOutOfScope } from "./consumer-scope.js";
import { deliveryOf, overallStatus, type ConsumerDelivery } from "./sync-status.js";


/** How stale the consumers (and their acknowledgements) may be when another process changed them. */
export const SNAPSHOT_MS = 200;
const CONSUMER_NAME = /^consumers\/[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Managing a consumer needs `{collection}.setPolicy` on its subtree; reading one `{collection}.getPolicy`. */
const MANAGE_PERMISSION = "setPolicy";
const READ_PERMISSION = READ_VERB.policy;

export class Sync {
  /** The consumers in memory, and the store's consumer version they are at. */
  private index = ConsumerIndex.EMPTY;
  private version = 0;
  /** Reads of the store's changes, numbered as they start; the last one done, and when it started. */
  private readsStarted = 0;
  private lastRead = { number: 0, at: 0 };
  private reading: Promise<void> | undefined;
  /** A read numbered above this is needed: this process changed the consumers after every earlier one started. */
  private mustReadAfter = 0;

  constructor(
    private readonly store: Store,
    private readonly schema: ResourceSchema,
    private readonly authorizer: Authorizer,
    private readonly limits: ConsumerLimits = CONSUMER_LIMITS,
  ) {}

  /**
   * The consumers, at most SNAPSHOT_MS old (and never older than this process's own last change to them). Between
   * changes this costs one indexed read per SNAPSHOT_MS; after one, a read of the consumers written since.
   */
  consumers(): Promise<ConsumerIndex> {
    if (this.lastRead.number > this.mustReadAfter && Date.now() - this.lastRead.at <= SNAPSHOT_MS) {
      return Promise.resolve(this.index);
    }
    return this.readAfter(Math.max(this.mustReadAfter, this.lastRead.number));
  }

  /** The consumers as of now: every change acknowledged before this call, by any process, is in them. */
  private current(): Promise<ConsumerIndex> {
    return this.readAfter(this.readsStarted);
  }

  /** The index once a read numbered above `number` is done (one read at a time; callers share it). */
  private async readAfter(number: number): Promise<ConsumerIndex> {
    while (this.lastRead.number <= number) {
      this.reading ??= this.readChanges().finally(() => (this.reading = undefined));
      await this.reading;
    }
    return this.index;
  }

  private async readChanges(): Promise<void> {
    const read = { number: ++this.readsStarted, at: Date.now() };
    const changes = await this.store.consumerChanges(this.version);
    this.index = this.index.apply(changes);
    this.version = changes.version;
    this.lastRead = read;
  }

  /**
   * `policy` (the policy of `resource`, of schema type `type`, as presented to its reader) with its computed sync
   * status: the same object when the status is the one it has, so that a frozen, memoised policy stays frozen in
   * the common case; a copy otherwise (never memoised: the status changes while the policy does not).
   */
  async withStatus<P extends Policy>(resource: { name: string; type: string }, policy: P): Promise<P> {
    // Without consumers every policy is delivered: no etag to parse (a page of 50 policies asks 50 times).
    const status = (await this.consumers()).size === 0 ? SyncStatus.SUCCESS : (await this.deliveries(resource, policy.etag)).status;
    return status === policy.syncStatus ? policy : { ...policy, syncStatus: status };
  }

  /**
   * The status of the policy revision `etag` of a resource, and each covering consumer's delivery of it. Looks only
   * at the consumers that cover the resource, and reads failures only when one of them has some.
   */
  async deliveries(
    { name, type }: { name: string; type: string },
    etag: Uint8Array,
  ): Promise<{ status: SyncStatus; revision: number; deliveries: ConsumerDelivery[] }> {
    const revision = etagSequence(etag) ?? 0;
    const index = await this.consumers();
    if (index.size === 0) return { status: SyncStatus.SUCCESS, revision, deliveries: [] };
    const lineage = index.needsLineage(name) ? ((await this.store.ancestry(name))?.map((link) => link.resource.name) ?? [name]) : [name];
    const covering = index.covering(type, lineage);
    const failing = covering.filter((c) => c.failureCount > 0).map((c) => c.name);
    const failures = failing.length > 0 ? new Map((await this.store.listResourceFailures(name, failing)).map((f) => [f.consumer, f])) : undefined;
    const deliveries = covering.map((c) => deliveryOf(c, failures?.get(c.name), revision));
    return { status: overallStatus(deliveries), revision, deliveries };
  }

  /**
   * The status counts every covering consumer; the answer names only those `caller` may read (as GetConsumer), one
   * check per subtree, and says `partial` when it leaves any out.
   */
  async status({ resource }: GetSyncStatusRequest, caller: Caller): Promise<GetSyncStatusResponse> {
    requireResourceName(this.schema, "resource", resource);
    const stored = await this.store.getPolicy(resource);
    if (!stored) throw notFound(resource);
    const { status, revision, deliveries } = await this.deliveries(stored.resource, stored.policy.etag);
    const readable = new Map<string, Promise<boolean>>();
    const mayRead = (subtree: string) => {
      let may = readable.get(subtree);
      if (!may) readable.set(subtree, (may = this.may(caller, subtree, READ_PERMISSION)));
      return may;
    };
    const shown = (await Promise.all(deliveries.map(async (d) => ((await mayRead(d.consumer.subtree)) ? [d] : [])))).flat();
    return create(GetSyncStatusResponseSchema, {
      resource,
      policySequence: BigInt(revision),
      status,
      partial: shown.length < deliveries.length,
      consumers: shown.map((d) =>
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
    const subtree = consumer!.subtree;
    await this.requireManage(caller, subtree, "register a consumer of every resource");
    const root = subtree === "" ? "" : (await this.store.ancestry(subtree))?.at(-1)?.resource.name;
    if (root === undefined) throw notFound(subtree);
    const limit = root === "" ? this.limits.unscoped : this.limits.perOrganization;
    const admit = (sameRoot: number) => {
      if (sameRoot >= limit) throw tooManyConsumers(root, sameRoot, this.limits);
    };
    const stored = await this.changing(
      this.store.writeConsumer({
        create: { name, displayName: consumer!.displayName, subtree, resourceTypes: [...new Set(consumer!.resourceTypes)], root },
        timeMs: Date.now(),
        admit,
      }),
    );
    return this.present(stored, await this.store.latestSequence());
  }

  async get({ name }: GetConsumerRequest, caller: Caller): Promise<Consumer> {
    const consumer = await this.require(name, caller, READ_PERMISSION);
    return this.present(consumer, await this.store.latestSequence());
  }

  /** The consumers whose scope the caller may read. */
  async list(caller: Caller): Promise<Consumer[]> {
    const [consumers, latest] = await Promise.all([this.current(), this.store.latestSequence()]);
    const listed: Consumer[] = [];
    // One check per subtree: the consumers of one subtree share it.
    const readable = new Map<string, boolean>();
    for (const consumer of consumers.all()) {
      let may = readable.get(consumer.subtree);
      if (may === undefined) readable.set(consumer.subtree, (may = await this.may(caller, consumer.subtree, READ_PERMISSION)));
      if (may) listed.push(this.present(consumer, latest));
    }
    return listed;
  }

  async delete({ name }: DeleteConsumerRequest, caller: Caller): Promise<void> {
    await this.require(name, caller, MANAGE_PERMISSION);
    await this.changing(this.store.writeConsumer({ delete: name }));
  }

  /**
   * Records a consumer's progress. Acknowledging needs what managing it needs (`{collection}.setPolicy` on its subtree): an
   * acknowledgement turns statuses to SUCCESS for every reader.
   */
  async acknowledge(request: AcknowledgeChangesRequest, caller: Caller): Promise<AcknowledgeChangesResponse> {
    const limits = this.limits;
    if (request.failures.length > limits.perAcknowledgement) throw tooLongAcknowledgement("failures", request.failures.length, limits);
    if (request.resolved.length > limits.perAcknowledgement) throw tooLongAcknowledgement("resolved", request.resolved.length, limits);
    const violations = new Violations();
    if (request.sequence < 0n) violations.add("sequence", "must not be negative");
    const types = new Map<string, ResourceType>();
    request.failures.forEach((f, i) => {
      const type = typeOfName(this.schema, f.resource);
      if (typeof type === "string") violations.add(`failures[${i}].resource`, "is not a resource name");
      else types.set(f.resource, type);
      if (f.sequence <= 0n || f.sequence > request.sequence) {
        violations.add(`failures[${i}].sequence`, "must be a sequence up to the acknowledged one");
      }
      if (f.message.length > limits.messageLength) violations.add(`failures[${i}].message`, `at most ${limits.messageLength} characters`);
    });
    violations.throwIfAny();
    const consumer = await this.require(request.consumer, caller, MANAGE_PERMISSION);
    const latest = await this.store.latestSequence();
    if (request.sequence > BigInt(latest)) {
      throw new ServiceError("failed_precondition", `sequence ${request.sequence} is ahead of the change log (at ${latest})`);
    }
    for (const i of await failuresOutOfScope(this.store, consumer, request.failures, (resource) => types.get(resource)!)) {
      const f = request.failures[i]!;
      violations.add(
        `failures[${i}].resource`,
        `${quoted(f.resource)} is not in the scope of ${consumer.name} (${scopeOf(consumer)}), now or at sequence ${f.sequence}`,
      );
    }
    violations.throwIfAny();
    const admit = ({ before, after }: { before: number; after: number }) => {
      // An acknowledgement that does not add failures always passes: a consumer over the bound can resolve its way back.
      if (after > limits.failuresPerConsumer && after > before) throw tooManyFailures(consumer.name, after, limits);
    };
    const stored = await this.changing(
      this.store.writeConsumer({
        acknowledge: request.consumer,
        ack: {
          upTo: Number(request.sequence),
          failures: request.failures.map((f) => ({ resource: f.resource, seq: Number(f.sequence), message: f.message })),
          resolved: request.resolved,
          timeMs: Date.now(),
        },
        admit,
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
      failureCount: consumer.failureCount,
    });
  }

  /** The consumer, when the caller holds `permission` on its subtree; NOT_FOUND otherwise, as for an absent one. */
  private async require(name: string, caller: Caller, permission: string): Promise<StoredConsumer> {
    const consumer = (await this.current()).get(name);
    if (!consumer || !(await this.may(caller, consumer.subtree, permission))) throw consumerNotFound(name);
    return consumer;
  }

  /** Whether `caller` holds `permission` on `subtree` (administrators only for ""), without an error to make. */
  private async may(caller: Caller, subtree: string, permission: string): Promise<boolean> {
    if (this.authorizer.isUnrestricted(caller)) return true;
    if (subtree === "") return false;
    const chain = await this.store.ancestry(subtree);
    return chain !== undefined && this.authorizer.holdsIn(caller, chain, permissionOn(subtree, permission));
  }

  /** Administrators only for a consumer of every resource; `permission` on the subtree otherwise. */
  private async requireManage(caller: Caller, subtree: string, what: string, permission = MANAGE_PERMISSION): Promise<void> {
    if (subtree === "") this.authorizer.requireAdmin(caller, what);
    else await this.authorizer.require(caller, this.authorizer.callResources().of(subtree), permissionOn(subtree, permission));
  }

  /** A write to the consumers: its store errors in this facade's words, and the consumers read again after it. */
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
      this.mustReadAfter = this.readsStarted;
    }
  }
}

/** A consumer's scope in words, for errors. */
function scopeOf(consumer: StoredConsumer): string {
  const where = consumer.subtree === "" ? "every resource" : `under ${consumer.subtree}`;
  return consumer.resourceTypes.length === 0 ? where : `${where}, of type ${consumer.resourceTypes.join(", ")}`;
}

function consumerNotFound(name: string): ServiceError {
  return new ServiceError("not_found", `consumer "${name}" not found; register it with SyncService.CreateConsumer`);
}
