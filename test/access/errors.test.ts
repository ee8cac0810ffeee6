// Bad CheckAccess requests fail with the right code and a message naming the problem, over gRPC and over the
// Connect protocol with JSON, and leave nothing changed.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  PROTOCOLS,
  createTree,
  expectCode,
  setBindings,
  startAccessServer,
  violationsOf,
  type AccessTestServer,
  type Api,
  type Tree,
} from "./support.js";

const ADA = "user:ada@example.com";

let running: AccessTestServer;
let tree: Tree;
beforeAll(async () => {
  running = await startAccessServer();
  tree = await createTree(running.grpc);
  await setBindings(running.grpc, tree.org, { role: "roles/owner", members: [ADA] });
});
afterAll(() => running?.stop());

describe.each(PROTOCOLS)("over %s", (protocol) => {
  let api: Api;
  beforeAll(() => {
    api = running[protocol];
  });

  const check = (overrides: { resource?: string; principals?: string[]; permissions?: string[] }) =>
    api.access.checkAccess({ resource: tree.project, principals: [ADA], permissions: ["projects.get"], ...overrides });

  test("an unknown permission is INVALID_ARGUMENT naming it and its position", async () => {
    const error = await expectCode(check({ permissions: ["projects.get", "projects.delet"] }), Code.InvalidArgument);
    expect(error.rawMessage).toContain('"projects.delet"');
    expect(violationsOf(error)).toEqual([expect.stringMatching(/^permissions\[1\]: .*projects\.delet/)]);
  });

  test("every unknown permission is named at once", async () => {
    const error = await expectCode(check({ permissions: ["clouds.destroy", "projects.get", "prjects.get"] }), Code.InvalidArgument);
    expect(violationsOf(error)).toEqual([
      expect.stringMatching(/^permissions\[0\]: .*clouds\.destroy/),
      expect.stringMatching(/^permissions\[2\]: .*prjects\.get/),
    ]);
  });

  test("a wildcard permission is INVALID_ARGUMENT, as in IAM's TestIamPermissions", async () => {
    for (const wildcard of ["projects.*", "*", "*.get"]) {
      const error = await expectCode(check({ permissions: [wildcard] }), Code.InvalidArgument);
      expect(error.rawMessage, wildcard).toContain(wildcard);
      expect(error.rawMessage).toMatch(/wildcard/);
    }
  });

  test("no permissions is INVALID_ARGUMENT", async () => {
    const error = await expectCode(check({ permissions: [] }), Code.InvalidArgument);
    expect(violationsOf(error)).toEqual([expect.stringMatching(/^permissions: /)]);
  });

  test("more than 100 permissions is INVALID_ARGUMENT", async () => {
    const error = await expectCode(check({ permissions: Array(101).fill("projects.get") }), Code.InvalidArgument);
    expect(error.rawMessage).toMatch(/100/);
  });

  test.each([
    ["not a member at all", "ada"],
    ["a user without an email", "user:ada"],
    ["an unknown kind", "robot:ada@example.com"],
    ["a domain (a member form, not a principal)", "domain:example.com"],
    ["allUsers (a member form, not a principal)", "allUsers"],
    ["an empty string", ""],
  ])("a malformed principal (%s) is INVALID_ARGUMENT naming it", async (_, principal) => {
    const error = await expectCode(check({ principals: [ADA, principal] }), Code.InvalidArgument);
    expect(violationsOf(error)).toEqual([expect.stringMatching(/^principals\[1\]: /)]);
    if (principal !== "") expect(error.rawMessage).toContain(principal);
  });

  test("more than 1,000 principals is INVALID_ARGUMENT", async () => {
    const principals = Array.from({ length: 1001 }, (_, i) => `group:ug_${i}`);
    const error = await expectCode(check({ principals }), Code.InvalidArgument);
    expect(error.rawMessage).toMatch(/1000/);
  });

  test("an unknown resource is NOT_FOUND naming it", async () => {
    const error = await expectCode(check({ resource: "projects/prj_nowhere" }), Code.NotFound);
    expect(error.rawMessage).toContain("projects/prj_nowhere");
  });

  test.each([
    ["empty", ""],
    ["without a collection", "prj_xyz"],
    ["of an unknown collection", "buckets/b1"],
  ])("a resource name %s is INVALID_ARGUMENT", async (_, resource) => {
    const error = await expectCode(check({ resource }), Code.InvalidArgument);
    expect(violationsOf(error)).toEqual([expect.stringMatching(/^resource: /)]);
  });

  test("a negative min_sequence is INVALID_ARGUMENT", async () => {
    const error = await expectCode(
      api.access.checkAccess({ resource: tree.project, principals: [ADA], permissions: ["projects.get"], minSequence: -1n }),
      Code.InvalidArgument,
    );
    expect(violationsOf(error)).toEqual([expect.stringMatching(/^min_sequence: /)]);
  });

  test("a min_sequence far in the future is FAILED_PRECONDITION", async () => {
    const error = await expectCode(
      api.access.checkAccess({
        resource: tree.project,
        principals: [ADA],
        permissions: ["projects.get"],
        minSequence: 1_000_000_000n,
      }),
      Code.FailedPrecondition,
    );
    expect(error.rawMessage).toContain("1000000000");
  });

  test("after the failures, the server still answers", async () => {
    const response = await check({ permissions: ["projects.delete"] });
    expect(response.grantedPermissions).toEqual(["projects.delete"]);
  });
});
