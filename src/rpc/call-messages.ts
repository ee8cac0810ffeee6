// For interceptors that read a call's messages: the single request message of a server-streaming call arrives as an
// async iterable, and what an interceptor takes from it must still reach the handler.

/** `call` with `message` in place of its own; its other properties stay as they are (grpc-js builds some lazily). */
export function withMessage<T extends { readonly message: unknown }>(call: T, message: T["message"]): T {
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

/** `messages`, calling `onSuccess` once: before the first message is handed on, or at the end when there is none. */
export async function* onFirstSuccess<T>(messages: AsyncIterable<T>, onSuccess: () => Promise<void>): AsyncGenerator<T> {
  let done = false;
  for await (const message of messages) {
    if (!done) {
      done = true;
      await onSuccess();
    }
    yield message;
  }
  if (!done) await onSuccess();
}
