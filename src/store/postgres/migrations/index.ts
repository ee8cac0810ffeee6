// Numbered migrations, applied in order at start under an advisory lock; each runs once, in its own transaction.
// Append, never edit. The versions match SQLite's (../../sqlite/migrations/), so copy.ts can tell the schemas agree.
import type { Migration } from "../../migrations.js";
import { sql as initial } from "./0001-initial.js";
import { sql as watch } from "./0002-watch.js";
import { sql as denyAndRoles } from "./0003-deny-and-roles.js";

export const migrations: readonly Migration[] = [
  { version: 1, name: "initial", sql: initial },
  { version: 2, name: "watch", sql: watch },
  { version: 3, name: "deny-and-roles", sql: denyAndRoles },
];
