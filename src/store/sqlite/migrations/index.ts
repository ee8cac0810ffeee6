// Numbered migrations, applied in order at start; each runs once, in its own transaction. Append, never edit.
import { sql as initial } from "./0001-initial.js";
import { sql as watch } from "./0002-watch.js";
import { sql as denyAndRoles } from "./0003-deny-and-roles.js";
import { sql as sharedPolicies } from "./0005-shared-policies.js";

export const migrations: readonly { version: number; name: string; sql: string }[] = [
  { version: 1, name: "initial", sql: initial },
  { version: 2, name: "watch", sql: watch },
  { version: 3, name: "deny-and-roles", sql: denyAndRoles },
  // 0004 is reverse lookups (another branch); each migration is self-contained, so either order applies.
  { version: 5, name: "shared-policies", sql: sharedPolicies },
];
