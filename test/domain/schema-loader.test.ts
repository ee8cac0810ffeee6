import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { SchemaError, parseSchema } from "../../src/schema/schema-loader.js";
import { allowsParent } from "../../src/schema/schema.js";
import { DEFAULT_SCHEMA_PATH } from "../helpers/fixtures.js";

const FILE = "custom-schema.yaml";

/** A one-type schema (lines 1-6) followed by `rest`, which therefore starts on line 7. */
function withOrganization(rest: string): string {
  return `types:
  organization:
    collection: organizations
    roles:
      roles/owner:
        permissions: [organizations.get]
${rest}`;
}

function schemaError(text: string): SchemaError {
  try {
    parseSchema(text, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(SchemaError);
    return e as SchemaError;
  }
  throw new Error("expected a SchemaError");
}

/** Asserts the message names the file and the line, and mentions `what`. */
function expectProblemAt(text: string, line: number, what: string | RegExp): void {
  const message = schemaError(text).message;
  expect(message).toContain(`${FILE}:${line}:`);
  expect(message).toMatch(what);
}

describe("the built-in schema", () => {
  const schema = parseSchema(readFileSync(DEFAULT_SCHEMA_PATH, "utf8"), "default.yaml");
  const roles = (type: string) => [...schema.types.get(type)!.roles.keys()].sort();

  test("has the three resource types with their collections, and shared policies (AIP-2511) in organizations", () => {
    expect([...schema.types.values()].map((t) => [t.name, t.collection])).toEqual([
      ["organization", "organizations"],
      ["cloud", "clouds"],
      ["project", "projects"],
      ["shared_policy", "sharedPolicies"],
    ]);
    expect(schema.types.get("shared_policy")!.parents).toEqual(["organization"]);
  });

  test("organization grants owner and collaborator, plus checker for services that call CheckAccess", () => {
    expect(roles("organization")).toEqual(["roles/checker", "roles/collaborator", "roles/owner"]);
  });

  test("cloud grants collaborator and readonly", () => {
    expect(roles("cloud")).toEqual(["roles/collaborator", "roles/readonly"]);
  });

  test("project grants owner, collaborator and readonly", () => {
    expect(roles("project")).toEqual(["roles/collaborator", "roles/owner", "roles/readonly"]);
  });

  test("organizations are roots, clouds live in organizations, projects in clouds or organizations", () => {
    const [organization, cloud, project] = ["organization", "cloud", "project"].map((t) => schema.types.get(t)!);
    expect(allowsParent(organization, undefined)).toBe(true);
    expect(allowsParent(cloud, organization)).toBe(true);
    expect(allowsParent(cloud, undefined)).toBe(false);
    expect(allowsParent(project, cloud)).toBe(true);
    expect(allowsParent(project, organization)).toBe(true);
    expect(allowsParent(cloud, project)).toBe(false);
  });

  test("an organization owner can delete projects and manage access; a collaborator cannot manage access", () => {
    const organization = schema.types.get("organization")!;
    const owner = organization.roles.get("roles/owner")!.permissions;
    const collaborator = organization.roles.get("roles/collaborator")!.permissions;
    expect(owner.has("projects.delete")).toBe(true);
    expect(owner.has("organizations.setPolicy")).toBe(true);
    expect(collaborator.has("organizations.setPolicy")).toBe(false);
  });

  test("a cloud collaborator can delete; a project collaborator cannot", () => {
    expect(schema.types.get("cloud")!.roles.get("roles/collaborator")!.permissions.has("clouds.delete")).toBe(true);
    expect(schema.types.get("project")!.roles.get("roles/collaborator")!.permissions.has("projects.delete")).toBe(false);
  });

  test("readonly roles only read", () => {
    for (const type of ["cloud", "project"]) {
      const permissions = [...schema.types.get(type)!.roles.get("roles/readonly")!.permissions];
      expect(permissions.every((p) => /\.(get|list)$/.test(p))).toBe(true);
    }
  });

  test("collections map back to their types", () => {
    expect(schema.typesByCollection.get("clouds")?.name).toBe("cloud");
  });

  test("role titles are read", () => {
    expect(schema.types.get("cloud")!.roles.get("roles/readonly")!.title).toBe("Read-only");
  });
});

describe("a custom schema", () => {
  test("a minimal valid file parses", () => {
    const schema = parseSchema(withOrganization(""), FILE);
    expect([...schema.types.keys()]).toEqual(["organization"]);
    expect([...schema.permissions]).toEqual(["organizations.get"]);
  });
});

describe("a bad schema names the file and the line", () => {
  test("an undefined parent type", () => {
    const text = withOrganization(`  cloud:
    collection: clouds
    parents: [organisation]
    roles:
      roles/viewer:
        permissions: [clouds.get]
`);
    expectProblemAt(text, 9, /parent type "organisation" is not defined/);
  });

  test("a permission that is not {collection}.{verb}", () => {
    const text = withOrganization(`  cloud:
    collection: clouds
    parents: [organization]
    roles:
      roles/viewer:
        permissions:
          - clouds.get
          - clouds-delete
`);
    expectProblemAt(text, 14, /"clouds-delete"/);
  });

  test("a collection used by two types", () => {
    const text = withOrganization(`  cloud:
    collection: organizations
    parents: [organization]
    roles:
      roles/viewer:
        permissions: [clouds.get]
`);
    expectProblemAt(text, 8, /collection "organizations" is already used by type "organization"/);
  });

  test("no root type", () => {
    const text = `types:
  cloud:
    collection: clouds
    parents: [project]
    roles:
      roles/viewer:
        permissions: [clouds.get]
  project:
    collection: projects
    parents: [cloud]
    roles:
      roles/viewer:
        permissions: [projects.get]
`;
    expectProblemAt(text, 2, /at least one type must be a root/);
  });

  test("a YAML syntax error", () => {
    const text = withOrganization(`  cloud:
    collection: clouds
\tparents: [organization]
`);
    expectProblemAt(text, 9, /Tabs are not allowed/);
  });

  test("an unterminated flow sequence", () => {
    const text = withOrganization(`  cloud:
    collection: clouds
    parents: [organization
    roles: {}
`);
    const message = schemaError(text).message;
    expect(message).toMatch(new RegExp(`${FILE}:(9|10):`));
  });

  test("a type defined twice", () => {
    const text = withOrganization(`  organization:
    collection: orgs
    roles:
      roles/viewer:
        permissions: [orgs.get]
`);
    expectProblemAt(text, 7, /unique/);
  });

  test("an unknown key in a type", () => {
    const text = withOrganization(`  cloud:
    collection: clouds
    parent: [organization]
    roles:
      roles/viewer:
        permissions: [clouds.get]
`);
    expectProblemAt(text, 9, /unknown key "parent"/);
  });

  test("an unknown key in a role", () => {
    const text = withOrganization(`  cloud:
    collection: clouds
    parents: [organization]
    roles:
      roles/viewer:
        descripton: Read the cloud.
        permissions: [clouds.get]
`);
    expectProblemAt(text, 12, /unknown key "descripton"/);
  });

  test("an unknown top-level key", () => {
    const text = `version: 2
${withOrganization("")}`;
    expectProblemAt(text, 1, /unknown key "version"/);
  });

  test("a type without roles", () => {
    const text = withOrganization(`  cloud:
    collection: clouds
    parents: [organization]
`);
    expectProblemAt(text, 8, /roles must be a non-empty mapping/);
  });

  test("a role with an empty permission list", () => {
    const text = withOrganization(`  cloud:
    collection: clouds
    parents: [organization]
    roles:
      roles/viewer:
        permissions: []
`);
    expectProblemAt(text, 12, /permissions must be a non-empty list/);
  });

  test("a role name without the roles/ prefix", () => {
    const text = withOrganization(`  cloud:
    collection: clouds
    parents: [organization]
    roles:
      viewer:
        permissions: [clouds.get]
`);
    expectProblemAt(text, 11, /role name "viewer"/);
  });

  test("a bad type name", () => {
    const text = withOrganization(`  Cloud Thing:
    collection: clouds
    roles:
      roles/viewer:
        permissions: [clouds.get]
`);
    expectProblemAt(text, 7, /type name "Cloud Thing"/);
  });

  test("a file without types", () => {
    expectProblemAt("resources: {}\n", 1, /`types`/);
  });
});
