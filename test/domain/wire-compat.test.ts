// The bytes of policy.v1 messages are google.iam.v1 / google.type bytes: decoded with IAM's own .proto files (from
// google-proto-files, through protobufjs, an independent implementation), every field has the same value.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import protobuf from "protobufjs";
import { describe, expect, test } from "vitest";
import {
  AuditConfigSchema,
  AuditLogConfig_LogType,
  AuditLogConfigSchema,
  BindingSchema,
  ExprSchema,
  GetPolicyOptionsSchema,
  PolicySchema,
  SyncStatus,
  type Policy,
} from "../../gen/policy/v1/policy_pb.js";

const PROTO_ROOT = dirname(createRequire(import.meta.url).resolve("google-proto-files/package.json"));

function loadIam(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
  root.loadSync(["google/iam/v1/policy.proto", "google/iam/v1/options.proto"], { keepCase: true });
  return root;
}

const iam = loadIam();
const IamPolicy = iam.lookupType("google.iam.v1.Policy");
const IamGetPolicyOptions = iam.lookupType("google.iam.v1.GetPolicyOptions");

/** How IAM's definition reads the bytes: field names as in the .proto, enums by name, bytes as arrays. */
function decodeAsIam(type: protobuf.Type, bytes: Uint8Array): Record<string, unknown> {
  return type.toObject(type.decode(bytes), { enums: String, bytes: Array, defaults: false, arrays: true });
}

const ETAG = new Uint8Array([0xbe, 0xef, 0x00, 0x01, 0xff]);

const samplePolicy: Policy = create(PolicySchema, {
  version: 3,
  etag: ETAG,
  bindings: [
    create(BindingSchema, { role: "roles/owner", members: ["user:ada@example.com", "group:ug_abc123"] }),
    create(BindingSchema, {
      role: "roles/readonly",
      members: ["domain:example.com"],
      condition: create(ExprSchema, {
        expression: 'request.time < timestamp("2027-01-01T00:00:00Z")',
        title: "Until 2027",
        description: "Temporary access",
        location: "policy.yaml",
      }),
    }),
  ],
  auditConfigs: [
    create(AuditConfigSchema, {
      service: "allServices",
      auditLogConfigs: [
        create(AuditLogConfigSchema, { logType: AuditLogConfig_LogType.ADMIN_READ }),
        create(AuditLogConfigSchema, {
          logType: AuditLogConfig_LogType.DATA_WRITE,
          exemptedMembers: ["serviceAccount:ci@example.com"],
        }),
        create(AuditLogConfigSchema, { logType: AuditLogConfig_LogType.DATA_READ }),
      ],
    }),
  ],
});

const iamView = {
  version: 3,
  etag: [...ETAG],
  bindings: [
    { role: "roles/owner", members: ["user:ada@example.com", "group:ug_abc123"] },
    {
      role: "roles/readonly",
      members: ["domain:example.com"],
      condition: {
        expression: 'request.time < timestamp("2027-01-01T00:00:00Z")',
        title: "Until 2027",
        description: "Temporary access",
        location: "policy.yaml",
      },
    },
  ],
  audit_configs: [
    {
      service: "allServices",
      audit_log_configs: [
        { log_type: "ADMIN_READ", exempted_members: [] },
        { log_type: "DATA_WRITE", exempted_members: ["serviceAccount:ci@example.com"] },
        { log_type: "DATA_READ", exempted_members: [] },
      ],
    },
  ],
};

describe("policy.v1.Policy is wire-compatible with google.iam.v1.Policy", () => {
  test("our bytes decode as IAM's Policy with the same field values", () => {
    const decoded = decodeAsIam(IamPolicy, toBinary(PolicySchema, samplePolicy));
    expect(decoded).toEqual(iamView);
  });

  test("IAM's bytes decode as our Policy with the same field values", () => {
    const bytes = IamPolicy.encode(IamPolicy.fromObject({ ...iamView, etag: ETAG })).finish();
    const decoded = fromBinary(PolicySchema, bytes);
    expect(toBinary(PolicySchema, decoded)).toEqual(toBinary(PolicySchema, samplePolicy));
    expect(decoded.bindings[1].condition?.title).toBe("Until 2027");
    expect(decoded.auditConfigs[0].auditLogConfigs[1].logType).toBe(AuditLogConfig_LogType.DATA_WRITE);
  });

  test("our own fields use numbers IAM does not know, so IAM's decoder skips them", () => {
    const withOwnFields = create(PolicySchema, {
      ...samplePolicy,
      syncStatus: SyncStatus.SUCCESS,
      updateTime: timestampFromMs(Date.parse("2026-01-01T00:00:00Z")),
    });
    expect(decodeAsIam(IamPolicy, toBinary(PolicySchema, withOwnFields))).toEqual(iamView);
  });

  test("field numbers match IAM's: version 1, etag 3, bindings 4, audit_configs 6", () => {
    const numbers = Object.fromEntries(PolicySchema.fields.map((f) => [f.name, f.number]));
    expect(numbers).toMatchObject(
      Object.fromEntries(["version", "etag", "bindings", "audit_configs"].map((n) => [n, IamPolicy.fields[n].id])),
    );
  });

  test("log type numbers match IAM's", () => {
    const IamLogType = iam.lookupEnum("google.iam.v1.AuditLogConfig.LogType");
    expect(IamLogType.values).toMatchObject({
      ADMIN_READ: AuditLogConfig_LogType.ADMIN_READ,
      DATA_WRITE: AuditLogConfig_LogType.DATA_WRITE,
      DATA_READ: AuditLogConfig_LogType.DATA_READ,
    });
  });
});

describe("policy.v1.GetPolicyOptions is wire-compatible with google.iam.v1.GetPolicyOptions", () => {
  test("requested_policy_version survives the round trip both ways", () => {
    const ours = toBinary(GetPolicyOptionsSchema, create(GetPolicyOptionsSchema, { requestedPolicyVersion: 3 }));
    expect(decodeAsIam(IamGetPolicyOptions, ours)).toEqual({ requested_policy_version: 3 });
    const theirs = IamGetPolicyOptions.encode({ requested_policy_version: 1 }).finish();
    expect(fromBinary(GetPolicyOptionsSchema, theirs).requestedPolicyVersion).toBe(1);
  });
});
