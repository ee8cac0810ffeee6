import { describe, expect, test } from "vitest";
import { requireResourceName, typeOfName } from "../../src/domain/names.js";
import { defaultSchema, serviceError } from "../helpers/fixtures.js";

function typeName(name: string): string {
  const type = typeOfName(defaultSchema, name);
  if (typeof type === "string") throw new Error(`expected "${name}" to be a resource name, got: ${type}`);
  return type.name;
}

function problem(name: string): string {
  const type = typeOfName(defaultSchema, name);
  if (typeof type !== "string") throw new Error(`expected "${name}" to be refused, got type ${type.name}`);
  return type;
}

describe("typeOfName", () => {
  test.each([
    ["organizations/acme", "organization"],
    ["clouds/cld_abc123", "cloud"],
    ["projects/prj_xyz789", "project"],
    ["projects/a", "project"],
    ["projects/My.Project-1", "project"],
    [`projects/${"p".repeat(128)}`, "project"],
  ])("%s is a %s", (name, type) => {
    expect(typeName(name)).toBe(type);
  });

  test("a name without a slash is refused with an example", () => {
    const message = problem("acme");
    expect(message).toContain('"acme"');
    expect(message).toContain("{collection}/{id}");
  });

  test("an unknown collection is refused, listing the known ones", () => {
    const message = problem("folders/f1");
    expect(message).toContain('"folders"');
    expect(message).toContain("organizations, clouds, projects");
  });

  test("the collection is case-sensitive", () => {
    expect(problem("Projects/p1")).toContain('unknown collection "Projects"');
  });

  test.each([
    "projects/",
    "projects/-p",
    "projects/_p",
    "projects/p/q",
    "projects/p q",
    "projects/p:q",
    `projects/${"p".repeat(129)}`,
  ])("%s has an invalid id", (name) => {
    expect(problem(name)).toMatch(/^invalid id/);
  });

  test("an empty name is not a resource name", () => {
    expect(problem("")).toContain("not a resource name");
  });
});

describe("requireResourceName", () => {
  test("returns the type of a good name", () => {
    expect(requireResourceName(defaultSchema, "resource", "clouds/c1").name).toBe("cloud");
  });

  test("an empty name is required on the named field", () => {
    const error = serviceError(() => requireResourceName(defaultSchema, "resource", ""), "invalid_argument");
    expect(error.violations).toEqual([{ field: "resource", description: "is required" }]);
  });

  test("a bad name is INVALID_ARGUMENT on the named field", () => {
    const error = serviceError(() => requireResourceName(defaultSchema, "resource.parent", "folders/f1"), "invalid_argument");
    expect(error.violations.map((v) => v.field)).toEqual(["resource.parent"]);
  });
});
