// createPolicyMirror(): the policies of a scope held in process, answering checkAccess, testIamPermissions and
// lookupEffectivePolicy without a network round trip, with the server's own decision code (src/domain/access) run over
// the mirrored chains. It starts from a Snapshot, follows Watch after the snapshot's sequence (batched when the server
// batches, one change per message when it does not), re-snapshots when Watch says the history it needs is gone
// (OUT_OF_RANGE) or a change leaves it without state (a resource moved in from outside), and reconnects with backoff.
//
// Consistency: an answer reflects the mirror's applied sequence (`sequence()`); `atLeast` (a sequence or a write's
// etag) waits up to `atLeastWaitMs` for the mirror to reach it, then asks the server (CheckAccess with min_sequence),
// so a caller reads its own writes across the edge. Outage: the mirror keeps answering from its last state while the
// server is away; `staleness()` says for how long nothing was heard, and past `maxStalenessMs` a check either fails
// closed (UNAVAILABLE) or goes to the server (`whenStale`). A chain the mirror does not hold in full (outside its scope,
// parts withheld from its credentials, a shared policy not yet known) always goes to the server.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  CheckAccessRequestSchema,
  type CheckAccessResponse,
} from "../../../gen/policy/v1/access_service_pb.js";
import type { EffectivePolicy } from "../../../gen/policy/v1/policy_service_pb.js";
import type { WatchResponse } from "../../../gen/policy/v1/watch_service_pb.js";
import { Access } from "../../domain/access/access.js";
import { Authorizer } from "../../domain/access/authorizer.js";
import { effectivePolicy } from "../../domain/effective-policy.js";
import { requireResourceName, typeOfName } from "../../domain/names.js";
import { checkRequestedVersion } from "../../domain/policy-read.js";
import { parseSchema } from "../../domain/schema/schema-loader.js";
import type { ResourceSchema } from "../../domain/schema/schema.js";
import { toConnectError } from "../../rpc/errors.js";
import { loadSchema } from "../../schema-file.js";
import type { StoredPolicy } from "../../store/store.js";
import type { PolicyClient } from "../client.js";
import { ensureConsumer } from "../consumer.js";
import { tokenSequence, type ConsistencyToken } from "./consistency-token.js";
import { MirrorState } from "./mirror-state.js";

export interface PolicyMirrorOptions {
  client: PolicyClient;
  /** The subtree mirrored, e.g. `organizations/acme` (its ancestors come with it). */
  scope: string;
  /** The server's resource schema: parsed, or its YAML text. Default: the built-in schema. */
  schema?: ResourceSchema | string;
  /** Past this long without hearing from the server, checks follow `whenStale`. Default 30 000 ms. */
  maxStalenessMs?: number;
  /** `rpc` (default): ask the server; `fail-closed`: refuse with UNAVAILABLE. */
  whenStale?: "rpc" | "fail-closed";
  /** How long a check with `atLeast` waits for the mirror before asking the server. Default 1000 ms. */
  atLeastWaitMs?: number;
  /** How often an idle Watch stream confirms the mirror is current (the staleness floor). Default 1000 ms. */
  progressIntervalMs?: number;
  /** Snapshot page size. Default: the server's (500). */
  snapshotPageSize?: number;
  /**
   * Register as this sync consumer (`consumers/{id}`, created with the mirror's scope when absent) and acknowledge
   * what the mirror applied, so that sync status means "applied at this enforcement point".
   */
  consumer?: string;
  /** Acknowledge at most this often. Default 200 ms. */
  ackIntervalMs?: number;
  /** Backoff between reconnects: from `initialMs` (default 100) doubling to `maxMs` (default 5000). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** A metric hook, called every `metricIntervalMs` (default 1000) with the staleness and position. */
  onMetrics?: (metrics: MirrorMetrics) => void;
  metricIntervalMs?: number;
  /** Called when the stream fails (before a reconnect) or a re-snapshot starts. */
  onEvent?: (event: MirrorEvent) => void;
}

export interface MirrorMetrics {
  /** Milliseconds since the mirror last heard from the server (Infinity before its first snapshot). */
  stalenessMs: number;
  /** The change-log sequence the mirror has applied. */
  sequence: bigint;
  connected: boolean;
  /** Answers given from the mirror, and by the server, since start. */
  answeredByMirror: number;
  answeredByRpc: number;
  resnapshots: number;
  resources: number;
}

export type MirrorEvent =
  | { kind: "disconnected"; error: ConnectError; retryInMs: number }
  | { kind: "resnapshot"; reason: string }
  | { kind: "snapshot"; sequence: bigint; resources: number; ms: number };

/** Options of one check. */
export interface MirrorCheckOptions {
  /** Answer from state at least this fresh: a sequence, or the etag a write returned. */
  atLeast?: ConsistencyToken;
}

export interface PolicyMirror {
  /** Resolves once the first snapshot is loaded (rejects if it cannot be, e.g. PERMISSION_DENIED). */
  readonly ready: Promise<void>;
  /** The change-log sequence the mirror has applied. */
  sequence(): bigint;
  /** How stale the mirror may be. */
  staleness(): { ms: number; connected: boolean; sequence: bigint };
  checkAccess(request: MessageInitShape<typeof CheckAccessRequestSchema>, options?: MirrorCheckOptions): Promise<CheckAccessResponse>;
  /** Which of `permissions` the principals hold on `resource` (NOT_FOUND when they may not see it), as TestIamPermissions. */
  testIamPermissions(
    request: { resource: string; principals: string[]; permissions: string[] },
    options?: MirrorCheckOptions,
  ): Promise<string[]>;
  lookupEffectivePolicy(request: { resource: string; requestedPolicyVersion?: number }, options?: MirrorCheckOptions): Promise<EffectivePolicy>;
  /** Waits until the mirror has applied `token`'s sequence; false after `timeoutMs`. */
  waitFor(token: ConsistencyToken, timeoutMs: number): Promise<boolean>;
  metrics(): MirrorMetrics;
  /** Stops following; answers keep coming from the last state (and go stale). */
  close(): Promise<void>;
}

/** Codes a reconnect does not fix: reported, and retried at the slowest backoff. */
const LASTING = new Set([Code.Unauthenticated, Code.PermissionDenied, Code.InvalidArgument, Code.Unimplemented, Code.NotFound]);

export function createPolicyMirror(options: PolicyMirrorOptions): PolicyMirror {
  return new Mirror(options);
}

class Mirror implements PolicyMirror {
  readonly ready: Promise<void>;
  private state: MirrorState | undefined;
  private readonly schema: ResourceSchema;
  private readonly access: Access;
  private readonly authorizer: Authorizer;
  private readonly closing = new AbortController();
  private lastHeard = -Infinity;
  private connected = false;
  private needsSnapshot = true;
  private waiters: { target: bigint; resolve: (reached: boolean) => void }[] = [];
  private counts = { mirror: 0, rpc: 0, resnapshots: 0 };
  private readonly running: Promise<void>;
  private readonly metricTimer: ReturnType<typeof setInterval> | undefined;
  private lastAck = 0;
  private acked = -1n;

  constructor(private readonly options: PolicyMirrorOptions) {
    const schema = options.schema ?? loadSchema(undefined);
    this.schema = typeof schema === "string" ? parseSchema(schema, "schema") : schema;
    // The server's decision code over the mirrored chains: the store it reads is the mirror's state.
    const chains = {
      ancestry: async (name: string): Promise<StoredPolicy[] | undefined> => {
        const lookup = this.state?.chain(name);
        return lookup && "chain" in lookup ? lookup.chain : undefined;
      },
      latestSequence: async () => Number(this.state?.sequence ?? 0n),
    };
    this.access = new Access(chains, this.schema);
    this.authorizer = new Authorizer(this.access, this.schema, new Set(), true);
    let started!: () => void;
    let failed!: (e: unknown) => void;
    this.ready = new Promise<void>((resolve, reject) => ((started = resolve), (failed = reject)));
    this.ready.catch(() => undefined);
    this.running = this.follow(started, failed);
    if (options.onMetrics) {
      this.metricTimer = setInterval(() => options.onMetrics!(this.metrics()), options.metricIntervalMs ?? 1000);
      this.metricTimer.unref?.();
    }
  }

  sequence(): bigint {
    return this.state?.sequence ?? 0n;
  }

  staleness() {
    return { ms: performance.now() - this.lastHeard, connected: this.connected, sequence: this.sequence() };
  }

  metrics(): MirrorMetrics {
    return {
      stalenessMs: performance.now() - this.lastHeard,
      sequence: this.sequence(),
      connected: this.connected,
      answeredByMirror: this.counts.mirror,
      answeredByRpc: this.counts.rpc,
      resnapshots: this.counts.resnapshots,
      resources: this.state?.size.resources ?? 0,
    };
  }

  async checkAccess(init: MessageInitShape<typeof CheckAccessRequestSchema>, options: MirrorCheckOptions = {}): Promise<CheckAccessResponse> {
    const request = create(CheckAccessRequestSchema, init);
    // min_sequence is a consistency token like atLeast: the mirror waits for it instead of refusing it.
    const atLeast = options.atLeast ?? (request.minSequence > 0n ? request.minSequence : undefined);
    request.minSequence = 0n;
    const route = await this.route(request.resource, atLeast);
    if (route !== "mirror") {
      this.counts.rpc++;
      return this.options.client.access.checkAccess({ ...request, minSequence: atLeast === undefined ? 0n : tokenSequence(atLeast) });
    }
    this.counts.mirror++;
    return this.decide(() => this.access.check(request, this.access.resolve(request.resource)));
  }

  async testIamPermissions(
    request: { resource: string; principals: string[]; permissions: string[] },
    options: MirrorCheckOptions = {},
  ): Promise<string[]> {
    const route = await this.route(request.resource, options.atLeast);
    const caller = { principal: request.principals[0] ?? "", identities: request.principals };
    if (route === "mirror") {
      this.counts.mirror++;
      return this.decide(() => this.authorizer.permissionsOf(caller, this.access.resolve(request.resource), request.permissions));
    }
    // The server's TestIamPermissions answers for its caller (the mirror's credentials): CheckAccess answers for the
    // principals, with the visibility permission TestIamPermissions also needs.
    this.counts.rpc++;
    const type = typeOfName(this.schema, request.resource);
    const visibility = typeof type === "string" ? [] : [`${type.collection}.get`];
    const answer = await this.options.client.access.checkAccess({
      resource: request.resource,
      principals: request.principals,
      permissions: [...request.permissions, ...visibility],
      minSequence: options.atLeast === undefined ? 0n : tokenSequence(options.atLeast),
    });
    const granted = new Set(answer.grantedPermissions);
    if (visibility.length > 0 && !granted.has(visibility[0]!)) throw new ConnectError(`${request.resource} not found`, Code.NotFound);
    return request.permissions.filter((p) => granted.has(p));
  }

  async lookupEffectivePolicy(request: { resource: string; requestedPolicyVersion?: number }, options: MirrorCheckOptions = {}): Promise<EffectivePolicy> {
    const version = request.requestedPolicyVersion ?? 0;
    const route = await this.route(request.resource, options.atLeast);
    if (route !== "mirror") {
      this.counts.rpc++;
      return this.options.client.policies.lookupEffectivePolicy({ resource: request.resource, options: { requestedPolicyVersion: version } });
    }
    this.counts.mirror++;
    return this.decide(async () => {
      requireResourceName(this.schema, "resource", request.resource);
      checkRequestedVersion(version, "options.requested_policy_version");
      const chain = await this.access.resolve(request.resource).chain();
      if (!chain) throw new ConnectError(`${request.resource} not found`, Code.NotFound);
      return effectivePolicy(request.resource, chain, version);
    });
  }

  waitFor(token: ConsistencyToken, timeoutMs: number): Promise<boolean> {
    const target = tokenSequence(token);
    if (this.sequence() >= target) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        target,
        resolve: (reached: boolean) => {
          clearTimeout(timer);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  async close(): Promise<void> {
    this.closing.abort();
    if (this.metricTimer) clearInterval(this.metricTimer);
    for (const waiter of this.waiters) waiter.resolve(false);
    this.waiters = [];
    await this.running;
  }

  /** Whether the mirror answers for `resource`, or the server does. */
  private async route(resource: string, atLeast: ConsistencyToken | undefined): Promise<"mirror" | "rpc"> {
    if (atLeast !== undefined && !(await this.waitFor(atLeast, this.options.atLeastWaitMs ?? 1000))) return "rpc";
    if (!this.state) return "rpc";
    if (performance.now() - this.lastHeard > (this.options.maxStalenessMs ?? 30_000)) {
      if (this.options.whenStale === "fail-closed") {
        throw new ConnectError(
          `the policy mirror has not heard from the server for ${Math.round(performance.now() - this.lastHeard)} ms (more than its maximum staleness): refusing`,
          Code.Unavailable,
        );
      }
      return "rpc";
    }
    return "chain" in this.state.chain(resource) ? "mirror" : "rpc";
  }

  /** Runs the server's decision code; its errors as the RPC would report them. */
  private async decide<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      throw e instanceof ConnectError ? e : toConnectError(e, () => undefined);
    }
  }

  private async follow(started: () => void, failed: (e: unknown) => void): Promise<void> {
    const { client } = this.options;
    const initialMs = this.options.backoff?.initialMs ?? 100;
    const maxMs = this.options.backoff?.maxMs ?? 5000;
    let delay = initialMs;
    let first = true;
    if (this.options.consumer) {
      try {
        await ensureConsumer(client, { name: this.options.consumer, subtree: this.options.scope, displayName: `policy mirror of ${this.options.scope}` });
      } catch (e) {
        failed(e);
        return;
      }
    }
    while (!this.closing.signal.aborted) {
      const stream = new AbortController();
      const stop = () => stream.abort();
      this.closing.signal.addEventListener("abort", stop, { once: true });
      try {
        if (this.needsSnapshot) {
          await this.snapshot();
          if (first) started(), (first = false);
        }
        const state = this.state!;
        const progress = this.options.progressIntervalMs ?? 1000;
        const messages = client.watch.watch(
          {
            afterSequence: state.sequence,
            subtree: state.watchRoot(),
            batch: true,
            progressInterval: { seconds: BigInt(Math.floor(progress / 1000)), nanos: (progress % 1000) * 1_000_000 },
          },
          { signal: stream.signal },
        );
        for await (const message of messages as AsyncIterable<WatchResponse>) {
          this.connected = true;
          this.lastHeard = performance.now();
          delay = initialMs;
          await this.receive(message);
          if (this.needsSnapshot) break;
        }
      } catch (e) {
        this.connected = false;
        if (this.closing.signal.aborted) break;
        const error = ConnectError.from(e);
        if (error.code === Code.OutOfRange) {
          this.resnapshot(`the change log no longer holds the changes after ${this.sequence()}: ${error.rawMessage}`);
          continue;
        }
        if (first && LASTING.has(error.code)) {
          failed(error);
          return;
        }
        const wait = delay / 2 + Math.random() * (delay / 2);
        this.options.onEvent?.({ kind: "disconnected", error, retryInMs: wait });
        await sleep(LASTING.has(error.code) ? maxMs : wait, this.closing.signal);
        delay = Math.min(maxMs, delay * 2);
      } finally {
        this.closing.signal.removeEventListener("abort", stop);
        stream.abort();
      }
    }
    this.connected = false;
  }

  private resnapshot(reason: string): void {
    this.needsSnapshot = true;
    this.counts.resnapshots++;
    this.options.onEvent?.({ kind: "resnapshot", reason });
  }

  /** Loads a new state from a snapshot, then swaps it in: answers come from the old state meanwhile. */
  private async snapshot(): Promise<void> {
    const started = performance.now();
    const next = new MirrorState(this.options.scope);
    for await (const page of this.options.client.snapshots.snapshot(
      { subtree: this.options.scope, pageSize: this.options.snapshotPageSize ?? 0 },
      { signal: this.closing.signal },
    )) {
      next.addSnapshotPage(page);
    }
    this.state = next;
    this.needsSnapshot = false;
    this.lastHeard = performance.now();
    this.options.onEvent?.({ kind: "snapshot", sequence: next.sequence, resources: next.size.resources, ms: performance.now() - started });
    this.settle();
  }

  private async receive(message: WatchResponse): Promise<void> {
    const state = this.state!;
    const event = message.event;
    if (event.case === "change" || event.case === "batch") {
      const changes = event.case === "change" ? [event.value] : event.value.changes;
      for (const change of changes) {
        if (change.sequence <= state.sequence) continue;
        const outcome = state.apply(change);
        if (outcome === "resnapshot") {
          this.resnapshot(`change ${change.sequence} (${change.resource}) needs state the mirror does not hold`);
          return;
        }
        if (outcome !== "applied") {
          // A binding to a shared policy created before the snapshot and bound after: its content, read now.
          try {
            state.learnSharedPolicy(await this.options.client.sharedPolicies.getSharedPolicy({ name: outcome.needsSharedPolicy }));
          } catch (e) {
            // Deleted since: its unbinding follows; meanwhile the targets' chains are incomplete (answered by the RPC).
            if (ConnectError.from(e).code !== Code.NotFound) throw e;
          }
          state.advance(change.sequence);
        }
      }
      if (event.case === "batch") state.advance(event.value.lastSequence);
    } else if (event.case === "progress") {
      state.advance(event.value.sequence);
    }
    this.settle();
  }

  /** Wakes the checks waiting for a sequence the mirror reached, and acknowledges as a sync consumer. */
  private settle(): void {
    const sequence = this.sequence();
    if (this.waiters.length > 0) {
      const waiting: typeof this.waiters = [];
      for (const waiter of this.waiters) (waiter.target <= sequence ? waiter.resolve(true) : waiting.push(waiter));
      this.waiters = waiting;
    }
    const consumer = this.options.consumer;
    if (consumer && sequence > this.acked && performance.now() - this.lastAck >= (this.options.ackIntervalMs ?? 200)) {
      this.lastAck = performance.now();
      this.acked = sequence;
      this.options.client.sync.acknowledgeChanges({ consumer, sequence }).catch((e: unknown) => {
        this.acked = -1n;
        this.options.onEvent?.({ kind: "disconnected", error: ConnectError.from(e), retryInMs: 0 });
      });
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
