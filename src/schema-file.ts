// The resource schema file the server and the CLI load: both read it with the same parser, so the CLI accepts
// exactly the schemas the server does.
import { readFileSync } from "node:fs";
import { parseSchema } from "./schema/schema-loader.js";
import type { ResourceSchema } from "./schema/schema.js";

export const DEFAULT_SCHEMA_FILE = new URL("../schema/default.yaml", import.meta.url);

/** The schema in `file`, or the built-in one; throws SchemaError, or the read error. */
export function loadSchema(file: string | undefined): ResourceSchema {
  const path = file ?? DEFAULT_SCHEMA_FILE;
  return parseSchema(readFileSync(path, "utf8"), String(file ?? "default.yaml"));
}
