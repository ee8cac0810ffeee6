// A span for every call into the database store (SQLite or PostgreSQL), as a decorator over the store contract, in
// calls that are traced; put in place by open-store.ts only when tracing is configured. The read cache sits above it,
// so a cache hit shows no database span and a miss shows the read it made. Recorded: the database system and the
// store method (db.operation.name); never its arguments (names, members) or its SQL's values.
import { childSpan, failed, within } from "../tracing/spans.js";
import type { Store } from "./store.js";

/** Not worth a span: shutdown and the metrics' figures (read outside calls). */
const UNTRACED = new Set(["close", "stats"]);

export function tracedStore(inner: Store, system: "sqlite" | "postgresql"): Store {
  // A plain object with a wrapper per method, made once (a Proxy would trap every property read of every call).
  const traced: Record<string, unknown> = {};
  for (const name of methodNames(inner)) {
    const method = (inner as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!;
    traced[name] = UNTRACED.has(name) ? method.bind(inner) : tracedMethod(inner, method, system, name);
  }
  Object.defineProperty(traced, "writtenSequence", { get: () => inner.writtenSequence });
  return traced as unknown as Store;
}

/** The methods of `store`: its own function properties and its classes' methods. */
function methodNames(store: Store): Set<string> {
  const names = new Set<string>();
  for (let o: object | null = store; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name === "constructor") continue;
      const descriptor = Object.getOwnPropertyDescriptor(o, name);
      if (descriptor && typeof descriptor.value === "function") names.add(name);
    }
  }
  return names;
}

function tracedMethod(target: Store, method: (...args: unknown[]) => unknown, system: string, name: string) {
  const attributes = { "db.system.name": system, "db.operation.name": name };
  const spanName = `${system} ${name}`;
  return (...args: unknown[]): unknown => {
    const span = childSpan(spanName, attributes);
    if (!span) return method.apply(target, args);
    try {
      const result = within(span, () => method.apply(target, args));
      if (!(result instanceof Promise)) {
        span.end();
        return result;
      }
      return result.then(
        (value: unknown) => {
          span.end();
          return value;
        },
        (error: unknown) => {
          failed(span, error);
          span.end();
          throw error;
        },
      );
    } catch (error) {
      failed(span, error);
      span.end();
      throw error;
    }
  };
}
