// The Watch facade: validates a WatchRequest and streams the change log from the shared feed, filtered by the
// request and by what the caller may read. Order is the feed's: strictly by sequence, no gap, no duplicate.
import { create } from "@bufbuild/protobuf";
import {
  ChangeKind,
  WatchResponseSchema,
  type WatchRequest,
  type WatchResponse,
} from "../../gen/policy/v1/watch_service_pb.js";
import { ServiceError, Violations } from "../service-error.js";
import type { ChangeRecord } from "../store/store.js";
import type { Caller } from "./access/authorizer.js";
import { TooOld, type ChangeFeed } from "./change-feed.js";
import { responseOf } from "./change-message.js";
import { batchResponseOf } from "./change-batch.js";
import { SharedResponse } from "./shared-response.js";
import { typeOfName } from "./names.js";
import type { ResourceSchema } from "../schema/schema.js";
import { bufferedStream, type CallEnd, type Outgoing, type StreamStop } from "./stream-buffer.js";
import { StreamClock } from "./stream-clock.js";
import { WatchStreams } from "./watch-streams.js";
import { kindOf, type WatchVisibility } from "./watch-visibility.js";
import { childSpan, tracedCall } from "../tracing/spans.js";
import { writeLinks } from "../tracing/writes.js";

export const DEFAULT_PROGRESS_MS = 5_000;
const MIN_PROGRESS_MS = 100;
const MAX_PROGRESS_MS = 3_600_000;
/** A Progress message's bytes, about (a tag, a length and a varint). */
const PROGRESS_BYTES = 16;

/** A delivery's span, in a traced Watch: the change's sequence, action and resource type (never names or principals). */
function deliverySpan(change: ChangeRecord) {
  if (!tracedCall()) return undefined;
  const attributes = { "policy.change.sequence": change.seq, "policy.change.action": change.action, "policy.resource.type": change.resourceType };
  return childSpan("watch deliver", attributes, writeLinks(change.seq));
}

const noSpan = () => undefined;

/** No filter on a kind or type (most streams: one shared empty set rather than two per stream). */
const NONE: ReadonlySet<never> = new Set();

/** The request's filters, checked once. */
interface Filter {
  subtree: string;
  types: ReadonlySet<string>;
  kinds: ReadonlySet<ChangeKind>;
}

/** Whether a change is in a subtree: the resource was beneath it after the change or (a move) before it. */
export function inSubtree(change: ChangeRecord, subtree: string): boolean {
  return subtree === "" || change.lineage.includes(subtree) || (change.previousLineage?.includes(subtree) ?? false);
}

function matches(change: ChangeRecord, filter: Filter): boolean {
  return (
    inSubtree(change, filter.subtree) &&
    (filter.types.size === 0 || filter.types.has(change.resourceType)) &&
    (filter.kinds.size === 0 || filter.kinds.has(kindOf(change)))
  );
}

export class Watch {
  constructor(
    private readonly feed: ChangeFeed,
    /** Who receives which change (watch-visibility.ts). */
    private readonly visibility: WatchVisibility,
    private readonly schema: ResourceSchema,
    /** The open streams, bounded per caller and in all. */
    readonly streams = new WatchStreams(),
  ) {}

  /**
   * The stream of a Watch call, until `signal` aborts (the client went away) or the server closes the feed. A reader
   * that leaves more than the stream buffer unsent is cut off (RESOURCE_EXHAUSTED, naming where to resume). With
   * `encodedBytes` (a binary codec), the messages that every stream shares go out as the bytes made once for them
   * (shared-response.ts), never made into messages.
   */
  watch(request: WatchRequest, caller: Caller, signal: CallEnd, encodedBytes = false): AsyncIterableIterator<WatchResponse> {
    // The stream itself, not a generator around it: a layer of async generator cost several promise hops per message
    // and per stream (with many watchers, a share of the server's time per delivery turn). Checked, and admitted,
    // when the transport first reads it, as a generator's body would be; its failures arrive from that read.
    let release: (() => void) | undefined;
    return bufferedStream(
      // Not an async function: its frame would stay suspended for the stream's life, beside the deliveries' own.
      (stop, send) => {
        const checked = this.validate(request);
        // Aborted before it started: nothing to admit (the end has run already).
        if (stop.aborted) return Promise.resolve();
        // Given back when the stream ends (onEnd), even while the transport waits for a reader that never reads again.
        release = this.streams.admit(caller.principal);
        return this.deliveries(request, checked, caller, stop, send);
      },
      {
        maxBytes: this.streams.limits.streamBufferBytes,
        signal,
        map: encodedBytes ? asBytes : asMessage,
        onEnd: () => release?.(),
        cutOff: (position) => {
          this.streams.cutOff++;
          return new ServiceError(
            "resource_exhausted",
            `this Watch stream fell behind: more than ${Math.round(this.streams.limits.streamBufferBytes / 1024)} KiB ` +
              `waited to be sent (--watch-stream-buffer-kb); watch again with after_sequence ${position} ` +
              `(the last sequence sent), and read the stream as fast as it arrives`,
          );
        },
      },
    );
  }

  /** Sends what the stream sends, each with its size and the position it covers, until the stream stops. */
  private async deliveries(
    request: WatchRequest,
    { filter, progressMs }: { filter: Filter; progressMs: number },
    caller: Caller,
    stop: StreamStop,
    /** Queues a message; a promise when the stream must wait for room (then await it), and throws to cut it off. */
    send: (message: Outgoing<Sent>) => Promise<void> | undefined,
  ): Promise<void> {
    const release = await this.feed.follow();
    const everything = this.visibility.seesEverything(caller);
    // A batched stream that receives every change (no filter, a caller who sees everything: most followers) sends each
    // turn's changes as they are, without a look at each per stream and per turn.
    const takesAll = request.batch && everything && filter.subtree === "" && filter.types.size === 0 && filter.kinds.size === 0;
    // Whether this call is traced is fixed for its life: asked once, not per change (and per stream) delivered.
    const spanOf = tracedCall() ? deliverySpan : noSpan;
    const clock = new StreamClock(progressMs, stop, this.feed);
    try {
      let position = this.feed.latest;
      if (request.afterSequence === undefined) {
        await send(progress(position));
      } else if (request.afterSequence > BigInt(position)) {
        throw new ServiceError(
          "out_of_range",
          `after_sequence ${request.afterSequence} is ahead of the change log (at ${position}); resume after a sequence this service sent`,
        );
      } else {
        position = Number(request.afterSequence);
      }
      const sent = () => clock.sent();
      while (!stop.aborted) {
        if (this.feed.closed) {
          throw new ServiceError("unavailable", `the server is shutting down; watch again with after_sequence ${position}`);
        }
        // History (behind the window) is read at the reader's pace; live changes do not wait for a slow reader.
        const paced = !this.feed.holds(position);
        const batch = this.feed.readHeld(position, this.feed.batchSize) ?? (await this.read(position, request.afterSequence ?? 0n));
        // Batched: every matching change of this turn in one message (shared with the streams that send the same).
        // `batch` itself while every change so far is sent (most streams: no array per stream and per turn).
        let sending: ChangeRecord[] | undefined;
        let count = 0;
        if (takesAll && batch.length > 0) {
          position = batch[batch.length - 1]!.seq;
          count = batch.length;
        } else for (let i = 0; i < batch.length; i++) {
          const change = batch[i]!;
          position = change.seq;
          const kept = matches(change, filter) && (everything || (await this.visible(change, caller)));
          if (request.batch) {
            if (!kept) sending ??= batch.slice(0, i);
            else if (sending) sending.push(change);
            if (kept) count++;
            continue;
          }
          if (!kept) continue;
          // In a traced Watch: a span per delivery, linked to the traced call that wrote the change (in this process).
          const delivery = spanOf(change);
          const response = responseOf(change);
          const waiting = send({ message: response, bytes: response.encoded.length, position, paced });
          if (waiting) await waiting;
          delivery?.end();
          sent();
        }
        if (count > 0) {
          const changes = sending ?? batch;
          const deliveries = spanOf === noSpan ? undefined : changes.map(spanOf);
          const response = batchResponseOf(changes, position);
          const waiting = send({ message: response, bytes: response.encoded.length, position, paced });
          if (waiting) await waiting;
          if (deliveries) for (const delivery of deliveries) delivery?.end();
          sent();
        }
        // Caught up: wait for the next turn at once, rather than read the window again to find it empty (with many
        // streams, that read and its promise per stream and per turn showed in the profile). A progress message is
        // due when nothing was sent for the interval (every change filtered out, or none).
        if (!clock.due()) {
          if (this.feed.latest > position) continue;
          await clock.wait();
          if (this.feed.latest > position || stop.aborted || !clock.due()) continue;
        }
        const waiting = send(progress(position));
        // Stryker disable next-line ConditionalExpression: a progress is never paced, so its send queues it or throws, never waits
        if (waiting) await waiting;
        sent();
      }
    } finally {
      clock.stop();
      release();
    }
  }

  private async read(position: number, asked: bigint) {
    try {
      return await this.feed.read(position, this.feed.batchSize);
    } catch (e) {
      if (!(e instanceof TooOld)) throw e;
      throw new ServiceError(
        "out_of_range",
        `after_sequence ${asked} is older than the retained change log, which starts at sequence ${e.oldest}: ` +
          `resync (read the current policies), then watch with after_sequence ${e.oldest - 1} or later`,
      );
    }
  }

  /** Whether the caller receives the change: the permission its kind needs, on the resource it was written to. */
  private visible(change: ChangeRecord, caller: Caller): Promise<boolean> {
    return this.visibility.visible(change, caller);
  }

  private validate(request: WatchRequest): { filter: Filter; progressMs: number } {
    const violations = new Violations();
    if (request.afterSequence !== undefined && request.afterSequence < 0n) violations.add("after_sequence", "must not be negative");
    if (request.subtree !== "") {
      const type = typeOfName(this.schema, request.subtree);
      if (typeof type === "string") violations.add("subtree", type);
    }
    request.resourceTypes.forEach((type, i) => {
      if (!this.schema.types.has(type)) {
        violations.add(`resource_types[${i}]`, `unknown type "${type}"; one of ${[...this.schema.types.keys()].join(", ")}`);
      }
    });
    request.kinds.forEach((kind, i) => {
      if (kind === ChangeKind.UNSPECIFIED || ChangeKind[kind] === undefined) violations.add(`kinds[${i}]`, `is not a change kind`);
    });
    let progressMs = DEFAULT_PROGRESS_MS;
    if (request.progressInterval) {
      progressMs = Number(request.progressInterval.seconds) * 1000 + Math.floor(request.progressInterval.nanos / 1e6);
      if (progressMs < MIN_PROGRESS_MS || progressMs > MAX_PROGRESS_MS) {
        violations.add("progress_interval", "must be between 100 milliseconds and 1 hour");
      }
    }
    violations.throwIfAny();
    const types = request.resourceTypes.length === 0 ? NONE : new Set(request.resourceTypes);
    const kinds = request.kinds.length === 0 ? NONE : new Set(request.kinds);
    return { filter: { subtree: request.subtree, types, kinds }, progressMs };
  }
}

/** What a stream queues: a response shared with other streams, or one of its own (a progress message). */
type Sent = SharedResponse | WatchResponse;

const asBytes = (sent: Sent): WatchResponse => (sent instanceof SharedResponse ? sent.carrier : sent);
const asMessage = (sent: Sent): WatchResponse => (sent instanceof SharedResponse ? sent.message : sent);

function progress(sequence: number): Outgoing<Sent> {
  const message = create(WatchResponseSchema, { event: { case: "progress", value: { sequence: BigInt(sequence) } } });
  return { message, bytes: PROGRESS_BYTES, position: sequence };
}
