// When a Watch stream's loop wakes: the feed read something new, the stream's progress interval passed since it last
// sent, or the stream stopped. Whether the interval passed is the timer's word, not a reading of Date.now(): the timer
// may fire a millisecond before Date.now() says the interval passed, and a stream that then waits again would wait
// with no timer left to wake it. One timer per stream for its whole life, refreshed on each send: with a thousand
// streams, a timer made and dropped on every wait cost more than the waits. A wait is one promise, woken by a callback
// the feed calls (not a race of promises: with 10,000 idle streams, each race's promises and reactions showed).
import type { StreamStop } from "./stream-buffer.js";

/** Where a stream waits for the feed's next read: `wake` is called once, unless taken back first. */
export interface Advances {
  whenAdvanced(wake: () => void): void;
  forget(wake: () => void): void;
}

export class StreamClock {
  private rang = false;
  private resolveWait: (() => void) | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly wake = () => {
    const resolve = this.resolveWait;
    this.resolveWait = undefined;
    resolve?.();
  };
  private readonly ring = () => {
    this.rang = true;
    if (this.resolveWait) {
      this.advances.forget(this.wake);
      this.wake();
    }
  };

  constructor(
    intervalMs: number,
    private readonly stopped: StreamStop,
    private readonly advances: Advances,
  ) {
    this.timer = setTimeout(this.ring, intervalMs);
    this.timer.unref();
    stopped.onStop = this.ring;
  }

  /** Something was sent: the interval starts again. */
  sent(): void {
    this.rang = false;
    this.timer.refresh();
  }

  /** Whether the interval passed since the stream last sent. */
  due(): boolean {
    return this.rang;
  }

  /** Resolves when the feed next advances, when the interval passes, or when the stream stops. */
  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.resolveWait = resolve;
      this.advances.whenAdvanced(this.wake);
    });
  }

  stop(): void {
    clearTimeout(this.timer);
    this.stopped.onStop = undefined;
    this.advances.forget(this.wake);
  }
}
