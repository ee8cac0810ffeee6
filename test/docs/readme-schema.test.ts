// The README's table of the built-in schema lists every type of schema/default.yaml with its collection, its parents
// and every role grantable on it, in the schema's order: the table is what a newcomer reads instead of the YAML.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { loadSchema } from "../../src/schema-file.js";
import { REPO_ROOT } from "../helpers/child-server.js";

test("the README's schema table is the built-in schema", () => {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const start = readme.indexOf("| type | collection | parent | roles grantable |");
  expect(start).toBeGreaterThan(0);
  const rows = readme
    .slice(start)
    .split("\n")
    .slice(2)
    .filter((line, i, lines) => line.startsWith("|") && lines.slice(0, i).every((l) => l.startsWith("|")))
    .map((line) => line.split("|").slice(1, -1).map((cell) => cell.trim()));
  const schema = loadSchema(undefined);
  expect(rows.map(([type]) => type)).toEqual([...schema.types.keys()]);
  for (const [type, collection, parents, roles] of rows) {
    const t = schema.types.get(type!)!;
    expect(collection, type).toBe(`\`${t.collection}/\``);
    expect(parents, type).toBe(t.parents.length === 0 ? "— (root)" : t.parents.join(" or "));
    expect([...roles!.matchAll(/`(roles\/[^`]+)`/g)].map((m) => m[1]), type).toEqual([...t.roles.keys()]);
  }
});
