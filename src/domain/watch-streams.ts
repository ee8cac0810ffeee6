// How many Watch streams are open, per caller and in all, bounded: each stream costs its share of memory (its unsent
// bytes, bounded by the stream buffer) and of delivery work, so their number is bounded too.
import { ServiceError } from "../service-error.js";

export interface WatchLimits {
  /** Streams open at once in this process. */
  maxStreams: number;
  /** Streams open at once by one principal. */
  maxStreamsPerCaller: number;
  /** Bytes one stream may keep unsent before it is cut off. */
  streamBufferBytes: number;
}

export const DEFAULT_WATCH_LIMITS: WatchLimits = {
  maxStreams: 1_000,
  maxStreamsPerCaller: 100,
  streamBufferBytes: 1024 * 1024,
};

export class WatchStreams {
  private readonly perCaller = new Map<string, number>();
  private total = 0;
  /** Streams ended because their reader fell behind (for /metrics). */
  cutOff = 0;

  constructor(readonly limits: WatchLimits = DEFAULT_WATCH_LIMITS) {}

  /** The streams open now. */
  get open(): number {
    return this.total;
  }

  /** Takes a stream's place for `principal`; returns what gives it back (once). RESOURCE_EXHAUSTED past a limit. */
  admit(principal: string): () => void {
    const mine = this.perCaller.get(principal) ?? 0;
    if (mine >= this.limits.maxStreamsPerCaller) {
      throw new ServiceError(
        "resource_exhausted",
        `${principal} has ${mine} Watch streams open, the most one caller may (--watch-streams-per-caller); ` +
          `close one, or watch a wider subtree with one stream`,
      );
    }
    if (this.total >= this.limits.maxStreams) {
      throw new ServiceError(
        "resource_exhausted",
        `this server has ${this.total} Watch streams open, the most it serves (--watch-streams); retry later or on another replica`,
      );
    }
    this.perCaller.set(principal, mine + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = this.perCaller.get(principal)! - 1;
      if (left === 0) this.perCaller.delete(principal);
      else this.perCaller.set(principal, left);
    };
  }
}
