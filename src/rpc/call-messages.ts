// For interceptors that read a call's messages: the single request message of a server-streaming call arrives as an
// async iterable, and what an interceptor takes from it must still reach the handler.

/**
 * The method by which a request or response of a transport of ours (the gRPC port's) makes its own copy with another
 * message: an object made with another as its prototype turns that one into a prototype, which V8 gives a map of its
 * own, kept for the call's life (a Watch stream: hours; ~0.4 KB per idle stream).
 */
export const derivedWith = Symbol("derivedWith");

/** `call` with `message` in place of its own; its other properties stay as they are (grpc-js builds some lazily). */
export function withMessage<T extends { readonly message: unknown }>(call: T, message: T["message"]): T {
  const derive = (call as { [derivedWith]?: (message: unknown) => T })[derivedWith];
  if (derive) return derive.call(call, message);
  return Object.create(call, { message: { value: message, enumerable: true } }) as T;
}

/** The first of `messages` and all of them again (the first, then the rest); undefined when there is none. */
export async function peekFirst<T>(messages: AsyncIterable<T>): Promise<{ first: T; all: AsyncIterable<T> } | undefined> {
  const iterator = messages[Symbol.asyncIterator]();
  const head = await iterator.next();
  if (head.done) return undefined;
  async function* all(): AsyncGenerator<T> {
    yield head.value;
    // The rest reach the transport's own check (a server-streaming call takes exactly one message).
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { first: head.value, all: all() };
}

export interface MessageHooks<T, U> {
  /** Runs once: before the first message is handed on, or at the end when there is none. */
  first?: () => Promise<void>;
  /** What the stream throws, as the consumer should see it. */
  error?: (e: unknown) => unknown;
  /** Each message as handed on. */
  map?: (message: T) => U;
}

/**
 * `messages` seen through `hooks`. An iterator that delegates, not an async generator: a long stream (Watch) pays
 * each layer on every message, and a generator layer (for await, yield) costs several promise hops where this costs
 * one; and once `first` has run, `next` is not an async function either, whose frame would stay suspended for an idle
 * stream's life.
 */
export function observed<T, U = T>(messages: AsyncIterable<T>, hooks: MessageHooks<T, U>): AsyncIterable<U> {
  return { [Symbol.asyncIterator]: () => new ObservedIterator(messages[Symbol.asyncIterator](), hooks) };
}

/** A class, not closures: one object per stream where closures made one each (10,000 idle Watch streams showed). */
class ObservedIterator<T, U> implements AsyncIterator<U> {
  private first: (() => Promise<void>) | undefined;
  private readonly handOn = (result: IteratorResult<T>): IteratorResult<U> =>
    result.done ? { done: true, value: undefined } : { done: false, value: this.hooks.map ? this.hooks.map(result.value) : (result.value as unknown as U) };
  private readonly failed = (e: unknown): never => {
    throw this.mapped(e);
  };

  constructor(
    private readonly inner: AsyncIterator<T>,
    private readonly hooks: MessageHooks<T, U>,
  ) {
    this.first = hooks.first;
  }

  next(): Promise<IteratorResult<U>> {
    const run = this.first;
    if (run) {
      this.first = undefined;
      return this.firstNext(run);
    }
    let next: Promise<IteratorResult<T>>;
    try {
      next = this.inner.next();
    } catch (e) {
      return Promise.reject(this.mapped(e) as Error);
    }
    return next.then(this.handOn, this.failed);
  }

  async return(): Promise<IteratorResult<U>> {
    await this.inner.return?.();
    return { done: true, value: undefined };
  }

  /** A failure of the stream, as the consumer should see it. */
  private mapped(e: unknown): unknown {
    return this.hooks.error ? this.hooks.error(e) : e;
  }

  /** The first message (or the end), handed on once `first` has run. */
  private async firstNext(run: () => Promise<void>): Promise<IteratorResult<U>> {
    let result: IteratorResult<T>;
    try {
      result = await this.inner.next();
    } catch (e) {
      return this.failed(e);
    }
    await run();
    return this.handOn(result);
  }
}
