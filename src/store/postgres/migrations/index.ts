// Numbered migrations, applied in order at start under an advisory lock; each runs once, in its own transaction.
// Append, never edit.
import { sql as initial } from "./0001-initial.js";

export const migrations: readonly { version: number; name: string; sql: string }[] = [
  { version: 1, name: "initial", sql: initial },
];
