// The Watch facade (domain/watch.ts) in process, built as server.ts builds it (a ChangeFeed over the store,
// WatchVisibility over Access and the Authorizer, the schema, WatchStreams), over an in-memory SQLite store behind the
// read cache; and a reader of its streams. For the tests that run watch.ts's mutants without a server.
import { create } from "@bufbuild/protobuf";
import { WatchRequestSchema, type ChangeKind, type WatchRequest, type WatchResponse } from "../../gen/policy/v1/watch_service_pb.js";
import { Access } from "../../src/domain/access/access.js";
import { Authorizer, type Caller } from "../../src/domain/access/authorizer.js";
import { ChangeFeed } from "../../src/domain/change-feed.js";
import { Watch } from "../../src/domain/watch.js";
import { ServiceError } from "../../src/service-error.js";
import { WatchStreams, type WatchLimits } from "../../src/domain/watch-streams.js";
import { WatchVisibility } from "../../src/domain/watch-visibility.js";
import { cachingStore } from "../../src/store/caching-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { createResource, type Store } from "../../src/store/store.js";
import { binding, defaultSchema, policy } from "../helpers/fixtures.js";
import { waitFor } from "../helpers/wait.js";

export const ROOT = "user:root@example.com";
export const ORG = "organizations/o";
export const CLOUD = "clouds/c";
export const PROJECT = "projects/p";
export const OTHER_ORG = "organizations/other";
export const OTHER_CLOUD = "clouds/other";
const actor = { principal: ROOT };

export const user = (email: string): Caller => ({ principal: `user:${email}`, identities: [`user:${email}`] });
export const admin: Caller = { principal: ROOT, identities: [ROOT] };

export const request = (init: Parameters<typeof create<typeof WatchRequestSchema>>[1] = {}): WatchRequest =>
  create(WatchRequestSchema, init);

/** A store with two organizations (o: cloud c, project p; other: cloud other), a feed over it, and the streams opened. */
export class WatchWorld {
  readonly opened: AbortController[] = [];

  private constructor(
    readonly store: Store,
    readonly feed: ChangeFeed,
  ) {}

  /** `batchSize`: the changes of one read of the feed (the feed's default unless given). */
  static async make({ batchSize }: { batchSize?: number } = {}): Promise<WatchWorld> {
    const store = cachingStore(new SqliteStore(":memory:"));
    const world = new WatchWorld(store, new ChangeFeed(store, { pollMs: 5, ...(batchSize ? { batchSize } : {}) }));
    await createResource(store, { name: ORG, parent: "", type: "organization", displayName: "" }, actor);
    await createResource(store, { name: CLOUD, parent: ORG, type: "cloud", displayName: "" }, actor);
    await createResource(store, { name: PROJECT, parent: CLOUD, type: "project", displayName: "" }, actor);
    await createResource(store, { name: OTHER_ORG, parent: "", type: "organization", displayName: "" }, actor);
    await createResource(store, { name: OTHER_CLOUD, parent: OTHER_ORG, type: "cloud", displayName: "" }, actor);
    return world;
  }

  /** The facade as server.ts builds it (over `feed`: the world's unless given). */
  facade(limits?: Partial<WatchLimits>, feed = this.feed): Watch {
    const access = new Access(this.store, defaultSchema);
    const authorizer = new Authorizer(access, defaultSchema, new Set([ROOT]), true);
    const streams = new WatchStreams({ maxStreams: 1_000, maxStreamsPerCaller: 100, streamBufferBytes: 1024 * 1024, ...limits });
    return new Watch(feed, new WatchVisibility(this.store, access, authorizer), defaultSchema, streams);
  }

  /** Sets the resource's policy (these users its owners) and returns the sequence its change got. */
  async setPolicy(resource: string, ...emails: string[]): Promise<number> {
    const owners = policy({ bindings: [binding("roles/owner", emails.map((e) => `user:${e}`))] });
    await this.store.updatePolicy(resource, () => owners, actor);
    return this.store.latestSequence();
  }

  async rename(resource: string, displayName: string): Promise<number> {
    await this.store.updateResource(resource, () => ({ displayName }), actor);
    return this.store.latestSequence();
  }

  /** Ends every stream opened, the feed and the store. */
  async close(): Promise<void> {
    for (const c of this.opened) c.abort();
    this.feed.close();
    await this.store.close();
  }
}

const ENDED = Symbol("ended");

/** A change as a watcher reads it: its sequence, kind and resource. */
export interface Seen {
  seq: number;
  kind: ChangeKind;
  resource: string;
}

/** A stream read as fast as it arrives, in the background. */
export class Reader {
  readonly messages: WatchResponse[] = [];
  error: unknown;
  ended = false;
  readonly controller = new AbortController();
  readonly iterator: AsyncIterableIterator<WatchResponse>;

  /** `read: false`: opened, not read until `drain()` (a reader that falls behind). */
  constructor(world: WatchWorld, watch: Watch, req: WatchRequest, caller: Caller, { read = true, encodedBytes = false } = {}) {
    world.opened.push(this.controller);
    // Without encodedBytes, the call a transport without a binary codec makes (the argument left out).
    this.iterator = encodedBytes ? watch.watch(req, caller, this.controller.signal, true) : watch.watch(req, caller, this.controller.signal);
    if (read) void this.drain();
  }

  async drain(): Promise<void> {
    try {
      for (;;) {
        const next = await this.iterator.next();
        if (next.done) break;
        this.messages.push(next.value);
      }
    } catch (e) {
      this.error = e;
    } finally {
      this.ended = true;
    }
  }

  /** Every change received (single or in batches), in order. */
  get changes(): Seen[] {
    return this.messages.flatMap((m) => {
      if (m.event.case === "change") return [seen(m.event.value)];
      if (m.event.case === "batch") return m.event.value.changes.map(seen);
      return [];
    });
  }

  get progress(): number[] {
    return this.messages.flatMap((m) => (m.event.case === "progress" ? [Number(m.event.value.sequence)] : []));
  }

  /** The batches received: each one's changes' sequences and its last_sequence. */
  get batches(): { seqs: number[]; last: number }[] {
    return this.messages.flatMap((m) =>
      m.event.case === "batch" ? [{ seqs: m.event.value.changes.map((c) => Number(c.sequence)), last: Number(m.event.value.lastSequence) }] : [],
    );
  }

  /** The probe's first truthy answer; the stream's error (or its end) at once if it ends before. */
  async until<T>(probe: (r: this) => T, what: string): Promise<NonNullable<T>> {
    const answer = await waitFor(() => probe(this) || (this.ended ? ENDED : undefined), what);
    if (answer === ENDED) throw this.error ?? new Error(`the stream ended before ${what}`);
    return answer as NonNullable<T>;
  }

  /** The ServiceError the stream ended with. */
  async failure(): Promise<ServiceError> {
    await waitFor(() => this.ended, "the stream to end");
    if (!(this.error instanceof ServiceError)) throw new Error(`the stream ended with ${String(this.error)}, not a ServiceError`);
    return this.error;
  }
}

function seen(change: { sequence: bigint; kind: ChangeKind; resource: string }): Seen {
  return { seq: Number(change.sequence), kind: change.kind, resource: change.resource };
}
