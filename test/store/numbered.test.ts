// PostgreSQL's form of the shared SQL (documents.ts, numbered): every named parameter becomes its `$n`, a name used
// twice keeps its number, fixed names take the numbers given and the others count on from `next`. The PostgreSQL
// store builds its statements with it when its module loads, so a mutation run (perTest) sees it only here.
import { expect, test } from "vitest";
import { numbered } from "../../src/store/documents.js";

test("named parameters numbered in order of first appearance, a repeated name keeping its number", () => {
  expect(numbered("SELECT @b, @a WHERE x = @b OR y = @cd")).toEqual({ text: "SELECT $1, $2 WHERE x = $1 OR y = $3", order: ["b", "a", "cd"] });
});

test("fixed names take their numbers and are not in the order; the others count from `next`", () => {
  expect(numbered("VALUES (@seq, @time, @id, @kind, @id)", { seq: 1, time: 2 }, 14)).toEqual({
    text: "VALUES ($1, $2, $14, $15, $14)",
    order: ["id", "kind"],
  });
});

test("SQL without named parameters is unchanged", () => {
  expect(numbered("SELECT 1 AS one")).toEqual({ text: "SELECT 1 AS one", order: [] });
});
