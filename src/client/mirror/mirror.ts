// createPolicyMirror(): the policies of a scope held in process, answering checkAccess, testIamPermissions and
// lookupEffectivePolicy without a network round trip, with the server's own decision code (src/domain/access) run over
// the mirrored chains, which mirror-follower.ts keeps current (Snapshot, then Watch; re-snapshots; reconnects).
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
import { Access } from "../../domain/access/access.js";
import { Authorizer } from "../../domain/access/authorizer.js";
import { effectivePolicy } from "../../domain/effective-policy.js";
import { requireResourceName, typeOfName } from "../../domain/names.js";
import { checkRequestedVersion } from "../../domain/policy-read.js";
import { READ_VERB } from "../../domain/access/read-permissions.js";
import { parseSchema } from "../../schema/schema-loader.js";
import type { ResourceSchema } from "../../schema/schema.js";
import { toConnectError } from "../../rpc/connect-errors.js";
import { loadSchema } from "../../schema-file.js";
import type { StoredPolicy } from "../../store/store.js";
import { tokenSequence, type ConsistencyToken } from "./consistency-token.js";
import { MirrorFollower, type FollowerEvent, type FollowerOptions } from "./mirror-follower.js";

/** The follower's options (client, scope, progress, snapshot page size, consumer, backoff, onEvent) and the answers'. */
export interface PolicyMirrorOptions extends FollowerOptions {
  /** The server's resource schema: parsed, or its YAML text. Default: the built-in schema. */
  schema?: ResourceSchema | string;
  /** Past this long without hearing from the server, checks follow `whenStale`. Default 30 000 ms. */
  maxStalenessMs?: number;
  /** `rpc` (default): ask the server; `fail-closed`: refuse with UNAVAILABLE. */
  whenStale?: "rpc" | "fail-closed";
  /** How long a check with `atLeast` waits for the mirror before asking the server. Default 1000 ms. */
  atLeastWaitMs?: number;
  /** A metric hook, called every `metricIntervalMs` (default 1000) with the staleness and position. */
  onMetrics?: (metrics: MirrorMetrics) => void;
  metricIntervalMs?: number;
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

export type MirrorEvent = FollowerEvent;

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

export function createPolicyMirror(options: PolicyMirrorOptions): PolicyMirror {
  return new Mirror(options);
}

class Mirror implements PolicyMirror {
  readonly ready: Promise<void>;
  private readonly follower: MirrorFollower;
  private readonly schema: ResourceSchema;
  private readonly access: Access;
  private readonly authorizer: Authorizer;
  private readonly counts = { mirror: 0, rpc: 0 };
  private readonly metricTimer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: PolicyMirrorOptions) {
    const schema = options.schema ?? loadSchema(undefined);
    this.schema = typeof schema === "string" ? parseSchema(schema, "schema") : schema;
    this.follower = new MirrorFollower(options);
    this.ready = this.follower.ready;
    // The server's decision code over the mirrored chains: the store it reads is the mirror's state.
    const chains = {
      ancestry: async (name: string): Promise<StoredPolicy[] | undefined> => {
        const lookup = this.follower.state?.chain(name);
        return lookup && "chain" in lookup ? lookup.chain : undefined;
      },
      latestSequence: async () => Number(this.follower.sequence()),
    };
    this.access = new Access(chains, this.schema);
    this.authorizer = new Authorizer(this.access, this.schema, new Set(), true);
    if (options.onMetrics) {
      this.metricTimer = setInterval(() => options.onMetrics!(this.metrics()), options.metricIntervalMs ?? 1000);
      this.metricTimer.unref?.();
    }
  }

  sequence(): bigint {
    return this.follower.sequence();
  }

  staleness() {
    return { ms: performance.now() - this.follower.lastHeard, connected: this.follower.connected, sequence: this.sequence() };
  }

  metrics(): MirrorMetrics {
    return {
      stalenessMs: performance.now() - this.follower.lastHeard,
      sequence: this.sequence(),
      connected: this.follower.connected,
      answeredByMirror: this.counts.mirror,
      answeredByRpc: this.counts.rpc,
      resnapshots: this.follower.resnapshots,
      resources: this.follower.state?.size.resources ?? 0,
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
    const visibility = typeof type === "string" ? [] : [`${type.collection}.${READ_VERB.resource}`];
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
    return this.follower.waitFor(tokenSequence(token), timeoutMs);
  }

  async close(): Promise<void> {
    if (this.metricTimer) clearInterval(this.metricTimer);
    await this.follower.close();
  }

  /** Whether the mirror answers for `resource`, or the server does. */
  private async route(resource: string, atLeast: ConsistencyToken | undefined): Promise<"mirror" | "rpc"> {
    if (atLeast !== undefined && !(await this.waitFor(atLeast, this.options.atLeastWaitMs ?? 1000))) return "rpc";
    const state = this.follower.state;
    if (!state) return "rpc";
    const stalenessMs = performance.now() - this.follower.lastHeard;
    if (stalenessMs > (this.options.maxStalenessMs ?? 30_000)) {
      if (this.options.whenStale === "fail-closed") {
        throw new ConnectError(
          `the policy mirror has not heard from the server for ${Math.round(stalenessMs)} ms (more than its maximum staleness): refusing`,
          Code.Unavailable,
        );
      }
      return "rpc";
    }
    return "chain" in state.chain(resource) ? "mirror" : "rpc";
  }

  /** Runs the server's decision code; its errors as the RPC would report them. */
  private async decide<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      throw e instanceof ConnectError ? e : toConnectError(e, () => undefined);
    }
  }
}
