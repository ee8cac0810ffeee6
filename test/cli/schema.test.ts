// --schema: the CLI reads a schema file with the server's own parser, so it accepts and refuses what the server does.
import { expect, test } from "vitest";
import { SchemaError } from "../../src/schema/schema-loader.js";
import { loadSchema } from "../../src/schema-file.js";
import { runMain, tempFile } from "../helpers/cli.js";

/** The error the server's start-up would stop with for `file`. */
function serverRefusal(file: string): Error {
  try {
    loadSchema(file);
  } catch (e) {
    return e as Error;
  }
  return expect.fail(`the server accepts ${file}`);
}

test("a schema the server refuses (a type without a collection), the CLI refuses with the server's message", async () => {
  const file = tempFile(
    "no-collection.yaml",
    "types:\n  organization:\n    parents: []\n    roles:\n      roles/owner:\n        permissions: [organizations.get]\n",
  );
  const refusal = serverRefusal(file);
  expect(refusal).toBeInstanceOf(SchemaError);
  expect(refusal.message).toMatch(/collection must match/);

  const result = await runMain(["get", "--resource-type", "organization", "--organization", "acme", "--schema", file]);
  expect(result.code).toBe(2);
  expect(result.stdout).toBe("");
  expect(result.stderr).toBe(`error: ${refusal.message}\n`);
});

test("a schema file that cannot be read is a CLI error naming it", async () => {
  const result = await runMain(["get", "--resource-type", "organization", "--schema", "/nonexistent/schema.yaml"]);
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(/^error: schema \/nonexistent\/schema\.yaml: ENOENT/);
});

test("a schema the server accepts gives the CLI its types and their collections", async () => {
  const file = tempFile(
    "teams.yaml",
    [
      "types:",
      "  organization:",
      "    collection: organizations",
      "    roles:",
      "      roles/owner:",
      "        permissions: [organizations.get, groups.get]",
      "  team:",
      "    collection: groups",
      "    parents: [organization]",
      "    roles:",
      "      roles/member:",
      "        permissions: [groups.get]",
      "",
    ].join("\n"),
  );
  loadSchema(file);

  const unknown = await runMain(["get", "--resource-type", "planet", "--resource-id", "x", "--schema", file]);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/^error: unknown resource type "planet"; known types: organization, team\n/);

  // A team's collection is the schema's `groups`, not a guessed `teams`.
  const wrong = await runMain(["get", "--resource-type", "team", "--resource-id", "teams/x", "--schema", file]);
  expect(wrong.code).toBe(2);
  expect(wrong.stderr).toMatch(/^error: --resource-id "teams\/x" is not an id of a group \(e\.g\. groups\/ID\)/);
});
