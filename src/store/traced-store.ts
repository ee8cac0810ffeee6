// A span for every call into the database store (SQLite or PostgreSQL), as a decorator over the store contract, in
// calls that are traced; put in place by open-store.ts only when tracing is configured. The read cache sits above it,
// so a cache hit shows no database span and a miss shows the read it made. Recorded: the database system and the
// store method (db.operation.name); never its arguments (names, members) or its SQL's values.
import { childSpan, failed, within } from "../tracing/spans.js";
import type { Store } from "./store.js";

/** Not worth a span: shutdown and the metrics' figures (read outside calls). */
const UNTRACED = new Set<PropertyKey>(["close", "stats", "constructor"]);

export function tracedStore(inner: Store, system: "sqlite" | "postgresql"): Store {
  const methods = new Map<PropertyKey, unknown>();
  return new Proxy(inner, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      let method = methods.get(property);
      if (method === undefined) {
        const fn = value as (...args: unknown[]) => unknown;
        method = UNTRACED.has(property) || typeof property !== "string" ? fn.bind(target) : traced(target, fn, system, property);
        methods.set(property, method);
      }
      return method;
    },
  });
}

function traced(target: Store, method: (...args: unknown[]) => unknown, system: string, name: string) {
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
