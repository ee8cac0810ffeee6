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

export interface StreamBufferOptions<T, U> {
  /** The most bytes queued unsent (one message larger than this is queued alone). */
  maxBytes: number;
  /** The error the stream ends with when it falls behind, after `position`, the last position queued. */
  cutOff: (position: number) => Error;
  /** Aborted when the call ends (the client went away): the queue is dropped at once. */
  signal: AbortSignal;
  /** Each message as it is handed to the transport (as it leaves the queue, so the queue holds what was produced). */
  map: (message: T) => U;
  /**
   * Runs when the stream ends, however it ends (its end read, `return`, `throw`, or `signal` aborting while the
   * transport still waits for a reader), possibly more than once: what the stream holds is given back there.
   */
  onEnd?: () => void;
}

/**
 * What `produce` sends (it must stop when its signal aborts), delivered through a queue of at most `maxBytes`. The queue's
 * bytes are what the server keeps for a reader that does not read; the producer holds one read of the feed at most.
 * Nothing starts before the first `next()`. The producer pushes (a generator would cost several promises per message
 * to hand it over, and again to hand it on), and this is an iterator written out rather than an async generator: a
 * Watch with many watchers pays each promise per message and per stream.
 */
export function bufferedStream<T, U>(
  produce: (signal: AbortSignal, send: (message: Outgoing<T>) => Promise<void> | undefined) => Promise<void>,
  options: StreamBufferOptions<T, U>,
): AsyncIterableIterator<U> {
  const stop = new AbortController();
  const queue: Outgoing<T>[] = [];
  let head = 0;
  let bytes = 0;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  let room: (() => void) | undefined;
  let pump: Promise<void> | undefined;
  let finished = false;
  const notify = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const makeRoom = () => {
    const resolve = room;
    room = undefined;
    resolve?.();
  };
  const onAbort = () => {
    stop.abort();
    options.onEnd?.();
    queue.length = 0;
    head = 0;
    notify();
    makeRoom();
  };
  const full = (item: Outgoing<T>) => queue.length > head && bytes + item.bytes > options.maxBytes;
  const enqueue = (item: Outgoing<T>) => {
    queue.push(item);
    bytes += item.bytes;
    notify();
  };
  // A message read at the reader's pace waits for room.
  const whenRoom = async (item: Outgoing<T>) => {
    while (full(item) && !stop.signal.aborted) await new Promise<void>((resolve) => (room = resolve));
    if (!stop.signal.aborted) enqueue(item);
  };
  // The producer's send: at once (no promise) while there is room, as most are.
  const send = (item: Outgoing<T>): Promise<void> | undefined => {
    if (stop.signal.aborted) return undefined;
    if (full(item)) {
      if (item.paced) return whenRoom(item);
      throw options.cutOff(queue[queue.length - 1]!.position);
    }
    enqueue(item);
    return undefined;
  };
  const start = () => {
    options.signal.addEventListener("abort", onAbort, { once: true });
    if (options.signal.aborted) onAbort();
    pump = (async () => {
      try {
        await produce(stop.signal, send);
      } catch (e) {
        failure = e;
      } finally {
        ended = true;
        notify();
      }
    })();
  };
  /** Ends the stream: the producer stops, and this waits for it (once, however the stream ends). */
  const finish = async () => {
    if (finished) return;
    finished = true;
    options.signal.removeEventListener("abort", onAbort);
    stop.abort();
    makeRoom();
    try {
      await pump;
    } finally {
      options.onEnd?.();
    }
  };
  const done = (): IteratorResult<U> => ({ done: true, value: undefined });
  return {
    async next(): Promise<IteratorResult<U>> {
      if (finished) return done();
      if (!pump) start();
      for (;;) {
        if (head < queue.length) {
          const item = queue[head]!;
          queue[head++] = undefined as never;
          bytes -= item.bytes;
          makeRoom();
          // Compact now and then rather than shift: a long queue would make every shift linear.
          if (head === queue.length || head > 1024) {
            queue.splice(0, head);
            head = 0;
          }
          return { done: false, value: options.map(item.message) };
        }
        if (ended) break;
        await new Promise<void>((resolve) => (wake = resolve));
        if (finished) return done();
      }
      const error = failure !== undefined && !options.signal.aborted ? failure : undefined;
      await finish();
      if (error !== undefined) throw error;
      return done();
    },
    async return(): Promise<IteratorResult<U>> {
      await finish();
      return done();
    },
    async throw(error: unknown): Promise<IteratorResult<U>> {
      await finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
