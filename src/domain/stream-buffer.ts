// A stream's unsent messages, bounded in bytes. The producer (Watch's reading of the feed) runs ahead of the
// transport, which takes the next message only once the previous ones have left its own small buffer (both ports
// wait for HTTP/2 flow control). A reader that stops reading therefore leaves messages here. Once they would pass the
// bound: a message the producer read at the reader's pace (history from the database) waits for room; a live one
// (the writes of now, which do not wait) ends the stream, after what is queued, with the error `cutOff` makes
// (naming the position of the last message queued, so the client resumes right after what it received).

/** A message to send, its size on the wire, and the position (change-log sequence) it covers. */
export interface Outgoing<T> {
  message: T;
  bytes: number;
  position: number;
  /** Read at the reader's pace (history): waits for room rather than cutting the stream off. */
  paced?: boolean;
}

/**
 * What ends a stream from outside (the client went away): an AbortSignal, or a lighter object that says as much (the
 * gRPC port's, from its call: with many idle Watch streams, an AbortController per call only for this showed).
 */
export interface CallEnd {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

export interface StreamBufferOptions<T, U> {
  /** The most bytes queued unsent (one message larger than this is queued alone). */
  maxBytes: number;
  /** The error the stream ends with when it falls behind, after `position`, the last position queued. */
  cutOff: (position: number) => Error;
  /** Aborted when the call ends (the client went away): the queue is dropped at once. */
  signal: CallEnd;
  /** Each message as it is handed to the transport (as it leaves the queue, so the queue holds what was produced). */
  map: (message: T) => U;
  /**
   * Runs when the stream ends, however it ends (its end read, `return`, `throw`, or `signal` aborting while the
   * transport still waits for a reader), possibly more than once: what the stream holds is given back there.
   */
  onEnd?: () => void;
}

/**
 * A stream's stop: a flag its producer reads, and the one callback (the stream's clock) run when it is set. Not an
 * AbortController: with 10,000 idle streams, a controller per stream with its signal, its event maps and a listener
 * came to ~0.7 KB each.
 */
export class StreamStop {
  aborted = false;
  /** Run once, when the stream stops (not if it had stopped already when set). */
  onStop: (() => void) | undefined;

  stop(): void {
    if (this.aborted) return;
    this.aborted = true;
    const onStop = this.onStop;
    this.onStop = undefined;
    onStop?.();
  }
}

/**
 * What `produce` sends (it must stop when its stop is set), delivered through a queue of at most `maxBytes`. The queue's
 * bytes are what the server keeps for a reader that does not read; the producer holds one read of the feed at most.
 * Nothing starts before the first `next()`. The producer pushes (a generator would cost several promises per message
 * to hand it over, and again to hand it on), and this is an iterator written out rather than an async generator, with
 * no async function suspended while it waits: a Watch with many watchers pays each promise per message and per
 * stream, and each suspended function's frame per idle stream.
 */
export function bufferedStream<T, U>(
  produce: (stop: StreamStop, send: (message: Outgoing<T>) => Promise<void> | undefined) => Promise<void>,
  options: StreamBufferOptions<T, U>,
): AsyncIterableIterator<U> {
  return new BufferedStream(produce, options);
}

/** A class, not closures over locals: with 10,000 idle streams, a closure per step of the code below showed. */
class BufferedStream<T, U> implements AsyncIterableIterator<U> {
  private readonly stop = new StreamStop();
  private readonly queue: Outgoing<T>[] = [];
  private head = 0;
  private bytes = 0;
  private ended = false;
  private failure: unknown;
  /** The consumer's pending next(), while the queue is empty. */
  private reader: { resolve: (result: IteratorResult<U>) => void; reject: (error: unknown) => void } | undefined;
  private room: (() => void) | undefined;
  private pump: Promise<void> | undefined;
  private finished = false;
  // What is handed out: the producer's send, the call's abort listener, the producer's end.
  private readonly send = (item: Outgoing<T>) => this.offer(item);
  private readonly onAbort = () => this.aborted();
  private readonly producerEnded = () => {
    this.ended = true;
    this.notify();
  };
  private readonly producerFailed = (e: unknown) => {
    this.failure = e;
    this.producerEnded();
  };

  constructor(
    private readonly produce: (stop: StreamStop, send: (message: Outgoing<T>) => Promise<void> | undefined) => Promise<void>,
    private readonly options: StreamBufferOptions<T, U>,
  ) {}

  next(): Promise<IteratorResult<U>> {
    if (this.finished) return Promise.resolve(done());
    if (!this.pump) this.start();
    const next = this.take();
    if (next) return Promise.resolve(next);
    if (this.ended) return this.end();
    return new Promise((resolve, reject) => (this.reader = { resolve, reject }));
  }

  async return(): Promise<IteratorResult<U>> {
    await this.finish();
    return done();
  }

  async throw(error: unknown): Promise<IteratorResult<U>> {
    await this.finish();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private start(): void {
    const { signal } = this.options;
    signal.addEventListener("abort", this.onAbort, { once: true });
    if (signal.aborted) this.aborted();
    let produced: Promise<void>;
    try {
      produced = this.produce(this.stop, this.send);
    } catch (e) {
      produced = Promise.reject(e);
    }
    this.pump = produced.then(this.producerEnded, this.producerFailed);
  }

  /** The producer's send: at once (no promise) while there is room, as most are. */
  private offer(item: Outgoing<T>): Promise<void> | undefined {
    if (this.stop.aborted) return undefined;
    if (this.full(item)) {
      if (item.paced) return this.whenRoom(item);
      throw this.options.cutOff(this.queue[this.queue.length - 1]!.position);
    }
    this.enqueue(item);
    return undefined;
  }

  private full(item: Outgoing<T>): boolean {
    return this.queue.length > this.head && this.bytes + item.bytes > this.options.maxBytes;
  }

  private enqueue(item: Outgoing<T>): void {
    this.queue.push(item);
    this.bytes += item.bytes;
    this.notify();
  }

  /** A message read at the reader's pace waits for room. */
  private async whenRoom(item: Outgoing<T>): Promise<void> {
    while (this.full(item) && !this.stop.aborted) await new Promise<void>((resolve) => (this.room = resolve));
    if (!this.stop.aborted) this.enqueue(item);
  }

  private makeRoom(): void {
    const resolve = this.room;
    this.room = undefined;
    resolve?.();
  }

  /** The next queued message, as the transport takes it. */
  private take(): IteratorResult<U> | undefined {
    const { queue } = this;
    if (this.head >= queue.length) return undefined;
    const item = queue[this.head]!;
    queue[this.head++] = undefined as never;
    this.bytes -= item.bytes;
    this.makeRoom();
    // Compact now and then rather than shift: a long queue would make every shift linear.
    if (this.head === queue.length || this.head > 1024) {
      queue.splice(0, this.head);
      this.head = 0;
    }
    return { done: false, value: this.options.map(item.message) };
  }

  /** Answers a waiting reader, if there is now something to answer. */
  private notify(): void {
    const reader = this.reader;
    if (!reader) return;
    const next = this.finished ? done<U>() : this.take();
    if (next) {
      this.reader = undefined;
      reader.resolve(next);
    } else if (this.ended) {
      this.reader = undefined;
      this.end().then(reader.resolve, reader.reject);
    }
  }

  /** The call ended (the client went away): the queue is dropped at once. */
  private aborted(): void {
    this.stop.stop();
    this.options.onEnd?.();
    this.queue.length = 0;
    this.head = 0;
    this.notify();
    this.makeRoom();
  }

  /** The end of what the producer sent: its failure (unless the call ended), once the stream is finished. */
  private async end(): Promise<IteratorResult<U>> {
    const error = this.failure !== undefined && !this.options.signal.aborted ? this.failure : undefined;
    await this.finish();
    if (error !== undefined) throw error;
    return done();
  }

  /** Ends the stream: the producer stops, and this waits for it (once, however the stream ends). */
  private async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.options.signal.removeEventListener("abort", this.onAbort);
    this.stop.stop();
    this.makeRoom();
    try {
      await this.pump;
    } finally {
      this.options.onEnd?.();
    }
  }
}

function done<U>(): IteratorResult<U> {
  return { done: true, value: undefined };
}
