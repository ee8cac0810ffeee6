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

describe("IAM's deleted and federated principals (issue 13)", () => {
  test.each([
    "deleted:user:ada@example.com?uid=123456789012345678901",
    "deleted:group:admins@example.com?uid=123456789012345678901",
    "deleted:serviceAccount:ci@example.iam.gserviceaccount.com?uid=123456789012345678901",
    "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/subject/repo:acme/app",
    "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/group/admins",
  ])("%s is a member", (member) => {
    expect(accepted(member)).toBe(member);
  });

  test("a deleted principal's email is canonical like the live one's", () => {
    expect(accepted("deleted:user:Ada@Example.com?uid=42")).toBe("deleted:user:ada@example.com?uid=42");
  });

  test.each([
    ["no uid", "deleted:user:ada@example.com"],
    ["an empty uid", "deleted:user:ada@example.com?uid="],
    ["a domain", "deleted:domain:example.com?uid=1"],
    ["allUsers", "deleted:allUsers?uid=1"],
    ["a bad email", "deleted:user:ada?uid=1"],
    ["a space in a federated identity", "principal://iam.googleapis.com/a b"],
    ["an empty federated identity", "principalSet://"],
  ])("%s is refused", (_, member) => {
    expect(rejection(member)).toContain(member);
  });

  test("deleted groups count against the groups-and-domains limit", () => {
    expect(isGroupOrDomain("deleted:group:admins@example.com?uid=1")).toBe(true);
    expect(isGroupOrDomain("deleted:user:ada@example.com?uid=1")).toBe(false);
  });
});
