// A snapshot sends a stored policy's bytes without decoding them: what a reader decodes must be exactly the policy
// GetPolicy presents (version 3 requested), whatever the stored bytes hold (conditions, audit configs, stale copies of
// the fields the columns hold). fast-check prints the seed of a failing run.
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { expect, test } from "vitest";
import { AuditConfigSchema, BindingSchema, ExprSchema, PolicySchema, SyncStatus } from "../../gen/policy/v1/policy_pb.js";
import { ResourceSchema } from "../../gen/policy/v1/resource_pb.js";
import { SnapshotResourceSchema, SnapshotResponseSchema } from "../../gen/policy/v1/snapshot_service_pb.js";
import { policyForVersion } from "../../src/domain/policy-read.js";
import { SnapshotPage, presentedPolicyBytes } from "../../src/domain/snapshot-encoding.js";
import { decodePolicy } from "../../src/store/rows.js";

const bindingArb = fc.record({
  role: fc.constantFrom("roles/readonly", "roles/collaborator", "roles/owner"),
  members: fc.array(fc.constantFrom("user:a@example.com", "group:g", "allUsers"), { maxLength: 3 }),
  condition: fc.option(fc.record({ expression: fc.constant("request.time < timestamp('2030-01-01T00:00:00Z')"), title: fc.string() }), {
    nil: undefined,
  }),
});

const storedArb = fc.record({
  version: fc.constantFrom(0, 1, 3),
  bindings: fc.array(bindingArb, { maxLength: 4 }),
  auditConfigs: fc.array(fc.constantFrom("storage", "compute"), { maxLength: 2 }),
  // Stale copies of what the columns hold (a stored policy written with them, by an older server or by hand).
  staleEtag: fc.boolean(),
  staleTime: fc.option(fc.integer({ min: 0, max: 4_000_000_000_000 }), { nil: undefined }),
  staleStatus: fc.constantFrom(SyncStatus.UNSPECIFIED, SyncStatus.PENDING, SyncStatus.FAILED),
  revision: fc.integer({ min: 1, max: 2 ** 40 }),
  // Whole seconds too: a timestamp without nanos must not keep a stale copy's nanos.
  updateTime: fc.oneof(fc.integer({ min: 0, max: 4_000_000_000_000 }), fc.integer({ min: 0, max: 4_000_000_000 }).map((s) => s * 1000)),
});

type Stored = typeof storedArb extends fc.Arbitrary<infer T> ? T : never;

const resourceArb = fc.record({
  parent: fc.constantFrom("", "clouds/c"),
  // Multi-byte characters: string lengths are bytes on the wire.
  displayName: fc.oneof(fc.string(), fc.string({ unit: "grapheme", maxLength: 300 })),
  etag: fc.string(),
  createTime: fc.option(fc.integer({ min: 0, max: 4_000_000_000_000 }), { nil: undefined }),
  updateTime: fc.integer({ min: 0, max: 4_000_000_000_000 }),
  ancestor: fc.boolean(),
  shared: fc.boolean(),
});

function storedBytes(arb: Stored): Uint8Array {
  return toBinary(
    PolicySchema,
    create(PolicySchema, {
      version: arb.version,
      bindings: arb.bindings.map((b: Stored["bindings"][number]) =>
        create(BindingSchema, { role: b.role, members: b.members, condition: b.condition && create(ExprSchema, b.condition) }),
      ),
      auditConfigs: arb.auditConfigs.map((service: string) => create(AuditConfigSchema, { service })),
      etag: arb.staleEtag ? new Uint8Array([9, 9, 9]) : new Uint8Array(0),
      updateTime: arb.staleTime === undefined ? undefined : timestampFromMs(arb.staleTime),
      syncStatus: arb.staleStatus,
    }),
  );
}

test("the spliced policy decodes to the policy GetPolicy presents", () => {
  fc.assert(
    fc.property(storedArb, (arb) => {
      const bytes = storedBytes(arb);
      const expected = policyForVersion(decodePolicy(bytes, arb.revision, arb.updateTime), 3);
      const spliced = fromBinary(PolicySchema, presentedPolicyBytes({ bytes, revision: arb.revision, updateTime: arb.updateTime }));
      expect(equals(PolicySchema, spliced, create(PolicySchema, expected))).toBe(true);
    }),
    { numRuns: 500 },
  );
});

test("a page of spliced resources decodes as the page of messages", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(storedArb, resourceArb), { minLength: 1, maxLength: 20 }), (arbs) => {
      const messages = new SnapshotPage(false);
      const encoded = new SnapshotPage(true);
      arbs.forEach(([arb, r], i) => {
        const bytes = storedBytes(arb);
        const resource = () =>
          create(SnapshotResourceSchema, {
            resource: create(ResourceSchema, {
              name: `projects/p${i}`,
              parent: r.parent,
              type: "project",
              displayName: r.displayName,
              etag: r.etag,
              createTime: r.createTime === undefined ? undefined : timestampFromMs(r.createTime),
              updateTime: timestampFromMs(r.updateTime),
            }),
            ancestor: r.ancestor,
            sharedPolicies: r.shared ? ["sharedPolicies/x"] : [],
          });
        const withPolicy = resource();
        withPolicy.policy = policyForVersion(decodePolicy(bytes, arb.revision, arb.updateTime), 3);
        messages.add(withPolicy, undefined, []);
        encoded.add(resource(), { bytes, revision: arb.revision, updateTime: arb.updateTime }, []);
      });
      const expected = toBinary(SnapshotResponseSchema, messages.take(7n, true));
      const decoded = fromBinary(SnapshotResponseSchema, toBinary(SnapshotResponseSchema, encoded.take(7n, true)));
      expect(decoded.$unknown).toBeUndefined();
      expect(equals(SnapshotResponseSchema, decoded, fromBinary(SnapshotResponseSchema, expected))).toBe(true);
    }),
    { numRuns: 200 },
  );
});
