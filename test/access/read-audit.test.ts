// AuditConfig honoured for reads: which reads the audit configs of a resource and its ancestors ask to log.
import { create } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { AuditLogConfig_LogType as LogType, PolicySchema, type AuditConfig } from "../../gen/policy/v1/policy_pb.js";
import { parseSchema } from "../../src/schema/schema-loader.js";
import { ChainTree } from "../helpers/chain-tree.js";

const schema = parseSchema(readFileSync("schema/default.yaml", "utf8"), "default.yaml");
const SERVICE = "policy.v1.PolicyService";

function treeWith(orgConfigs: Partial<AuditConfig>[], cloudConfigs: Partial<AuditConfig>[] = []): ChainTree {
  const tree = new ChainTree(schema);
  tree.putResource("organizations/acme", "", "organization");
  tree.putResource("clouds/c1", "organizations/acme", "cloud");
  tree.putResource("projects/p1", "clouds/c1", "project");
  tree.setPolicy("organizations/acme", create(PolicySchema, { auditConfigs: orgConfigs as AuditConfig[] }));
  tree.setPolicy("clouds/c1", create(PolicySchema, { auditConfigs: cloudConfigs as AuditConfig[] }));
  return tree;
}

describe("audited reads", () => {
  test("nothing is audited without an audit config", () => {
    expect(treeWith([]).auditsRead("projects/p1", SERVICE, LogType.ADMIN_READ, ["user:a@x.com"])).toBe(false);
  });

  test("an ancestor's config for the service audits reads of its type below it", () => {
    const tree = treeWith([{ service: SERVICE, auditLogConfigs: [{ logType: LogType.ADMIN_READ, exemptedMembers: [] }] as never }]);
    expect(tree.auditsRead("projects/p1", SERVICE, LogType.ADMIN_READ, ["user:a@x.com"])).toBe(true);
    expect(tree.auditsRead("projects/p1", SERVICE, LogType.DATA_READ, ["user:a@x.com"])).toBe(false);
    expect(tree.auditsRead("projects/p1", "policy.v1.AccessService", LogType.ADMIN_READ, ["user:a@x.com"])).toBe(false);
  });

  test("allServices applies to every service", () => {
    const tree = treeWith([{ service: "allServices", auditLogConfigs: [{ logType: LogType.DATA_READ, exemptedMembers: [] }] as never }]);
    expect(tree.auditsRead("clouds/c1", "policy.v1.AccessService", LogType.DATA_READ, ["user:a@x.com"])).toBe(true);
  });

  test("a member exempted anywhere up the chain is not audited; others still are", () => {
    const tree = treeWith(
      [{ service: SERVICE, auditLogConfigs: [{ logType: LogType.ADMIN_READ, exemptedMembers: [] }] as never }],
      [{ service: SERVICE, auditLogConfigs: [{ logType: LogType.ADMIN_READ, exemptedMembers: ["group:auditors"] }] as never }],
    );
    expect(tree.auditsRead("projects/p1", SERVICE, LogType.ADMIN_READ, ["user:a@x.com", "group:auditors"])).toBe(false);
    expect(tree.auditsRead("projects/p1", SERVICE, LogType.ADMIN_READ, ["user:b@x.com"])).toBe(true);
  });
});
