// Numbered migrations, applied in order at start; each runs once, in its own transaction. Append, never edit.
// PostgreSQL's (../../postgres/migrations/) have the same versions and tables: add each to both.
// `run`, when a migration has one, runs after its SQL in the same transaction (what SQL alone cannot do).
import type Sqlite from "better-sqlite3";
import type { Migration } from "../../migrations.js";
import { sql as initial } from "./0001-initial.js";
import { sql as watch } from "./0002-watch.js";
import { sql as denyAndRoles } from "./0003-deny-and-roles.js";
import { backfill as backfillMemberGrants, sql as memberGrants } from "./0004-member-grants.js";
import { sql as sharedPolicies } from "./0005-shared-policies.js";
import { backfill as backfillSharedMemberGrants, sql as sharedMemberGrants } from "./0006-shared-member-grants.js";
import { sql as consumerBounds } from "./0007-consumer-bounds.js";
import { sql as documents } from "./0008-documents.js";
import { sql as sharedPolicyDocuments } from "./0009-shared-policy-documents.js";
import { sql as links } from "./0010-links.js";
import { sql as policyDocuments } from "./0011-policy-documents.js";

export const migrations: readonly Migration<Sqlite.Database, void>[] = [
  { version: 1, name: "initial", sql: initial },
  { version: 2, name: "watch", sql: watch },
  { version: 3, name: "deny-and-roles", sql: denyAndRoles },
  { version: 4, name: "member-grants", sql: memberGrants, run: backfillMemberGrants },
  { version: 5, name: "shared-policies", sql: sharedPolicies },
  { version: 6, name: "shared-member-grants", sql: sharedMemberGrants, run: backfillSharedMemberGrants },
  { version: 7, name: "consumer-bounds", sql: consumerBounds },
  { version: 8, name: "documents", sql: documents },
  { version: 9, name: "shared-policy-documents", sql: sharedPolicyDocuments },
  { version: 10, name: "links", sql: links },
  { version: 11, name: "policy-documents", sql: policyDocuments },
];
