import { describe, expect, test } from "vitest";
import { canonicalMember, isGroupOrDomain } from "../../src/domain/members.js";

function accepted(member: string): string {
  const result = canonicalMember(member);
  if ("error" in result) throw new Error(`expected "${member}" to be accepted, got: ${result.error}`);
  return result.member;
}

function rejection(member: string): string {
  const result = canonicalMember(member);
  if (!("error" in result)) throw new Error(`expected "${member}" to be rejected, got ${result.member}`);
  return result.error;
}

describe("accepted member forms", () => {
  test.each([
    "user:ada@example.com",
    "user:ada.lovelace+iam@mail.example.co.uk",
    "group:admins@example.com",
    "group:ug_abc123",
    "serviceAccount:deployer@my-project.iam.example.com",
    "domain:example.com",
    "domain:eng.example.co.uk",
    "allUsers",
    "allAuthenticatedUsers",
  ])("%s is a member and already canonical", (member) => {
    expect(accepted(member)).toBe(member);
  });
});

describe("canonical form", () => {
  test("user emails are lower-cased", () => {
    expect(accepted("user:Ada.Lovelace@Example.COM")).toBe("user:ada.lovelace@example.com");
  });

  test("service account emails are lower-cased", () => {
    expect(accepted("serviceAccount:Deployer@Example.com")).toBe("serviceAccount:deployer@example.com");
  });

  test("group emails are lower-cased", () => {
    expect(accepted("group:Admins@Example.com")).toBe("group:admins@example.com");
  });

  test("domains are lower-cased", () => {
    expect(accepted("domain:Example.COM")).toBe("domain:example.com");
  });

  test("opaque group ids keep their case", () => {
    expect(accepted("group:ug_ABC123")).toBe("group:ug_ABC123");
  });

  test("the kind prefix is not case-folded: User: is not user:", () => {
    expect(rejection("User:ada@example.com")).toContain('"User:ada@example.com"');
  });
});

describe("rejected members name the member in the message", () => {
  test.each([
    ["user:ada", "email"],
    ["user:", "email"],
    ["user:ada@localhost", "email"],
    ["user: ada@example.com", "email"],
    ["serviceAccount:deployer", "email"],
    ["group:", "ug_abc123"],
    ["group:-admins", "ug_abc123"],
    ["group:admins team", "ug_abc123"],
    ["domain:localhost", "domain"],
    ["domain:-example.com", "domain"],
    ["domain:ada@example.com", "domain"],
  ])("%s is refused with a hint about the form", (member, hint) => {
    const message = rejection(member);
    expect(message).toContain(`"${member}"`);
    expect(message).toContain(hint);
  });

  test.each(["ada@example.com", "alluser", "allusers", "everyone", "robot:r2d2@example.com", ""])(
    "%j is not a member at all and the message lists the accepted forms",
    (member) => {
      const message = rejection(member);
      expect(message).toContain(`"${member}"`);
      expect(message).toContain("user:{email}");
      expect(message).toContain("allAuthenticatedUsers");
    },
  );
});

describe("isGroupOrDomain", () => {
  test.each([
    ["group:ug_abc123", true],
    ["group:admins@example.com", true],
    ["domain:example.com", true],
    ["user:ada@example.com", false],
    ["serviceAccount:deployer@example.com", false],
    ["allUsers", false],
  ])("%s -> %s", (member, expected) => {
    expect(isGroupOrDomain(member)).toBe(expected);
  });
});
