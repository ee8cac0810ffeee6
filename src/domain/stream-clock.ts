// When a Watch stream's loop wakes: the feed read something new, the stream's progress interval passed since it last
// sent, or the call ended. Whether the interval passed is the timer's word, not a reading of Date.now(): the timer may
// fire a millisecond before Date.now() says the interval passed, and a stream that then waits again would wait with no
// timer left to wake it. One timer and one abort listener per stream for its whole life, refreshed on each send:
// with a thousand streams, a timer and a listener made and dropped on every wait cost more than the waits.

export class StreamClock {
  private alarm = deferred();
  private rang = false;
  private readonly timer: NodeJS.Timeout;
  private readonly onAbort = () => this.ring();

  constructor(
    intervalMs: number,
    private readonly signal: AbortSignal,
  ) {
    this.timer = setTimeout(() => this.ring(), intervalMs);
    this.timer.unref();
    signal.addEventListener("abort", this.onAbort, { once: true });
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

  /** Resolves when `advanced` does, when the interval passes, or when the call ends. */
  wait(advanced: Promise<void>): Promise<void> {
    return Promise.race([advanced, this.alarm.promise]);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.signal.removeEventListener("abort", this.onAbort);
  }

  private ring(): void {
    this.rang = true;
    const alarm = this.alarm;
    this.alarm = deferred();
    alarm.resolve();
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
