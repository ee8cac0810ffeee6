// What the access benchmark asks of each engine: build from the model, then answer one decision at a time.
import type { Query } from "./dataset.js";

export interface Engine {
  /** Shown in the results table. */
  readonly label: string;
  /** Turns a decision into this engine's request form (not timed: what a caller has at hand anyway). */
  prepare(query: Query): unknown;
  /** One decision: granted or not (timed). */
  decide(prepared: unknown): boolean;
}
