// ListAuditEntries refuses a time range that is not a valid google.protobuf.Timestamp, before it reads anything.
import { create } from "@bufbuild/protobuf";
import { expect, test } from "vitest";
import { ListAuditEntriesRequestSchema } from "../../gen/policy/v1/audit_service_pb.js";
import { Audit } from "../../src/domain/audit.js";
import { PageTokens } from "../../src/domain/page-token.js";
import type { Store } from "../../src/store/store.js";
import { defaultSchema } from "../helpers/fixtures.js";

let reads = 0;
const store = {
  listAuditRecords: async () => {
    reads++;
    return [];
  },
} as unknown as Store;
const audit = new Audit(store, defaultSchema, new PageTokens(new Uint8Array(32)));

const request = (start: { seconds: bigint; nanos: number }, end?: { seconds: bigint; nanos: number }) =>
  create(ListAuditEntriesRequestSchema, { resource: "organizations/acme", startTime: start, endTime: end });

test.each([
  ["negative nanos", { seconds: 0n, nanos: -1 }, "start_time.nanos"],
  ["nanos of a whole second", { seconds: 0n, nanos: 1_000_000_000 }, "start_time.nanos"],
  ["seconds = 2^62", { seconds: 2n ** 62n, nanos: 0 }, "start_time.seconds"],
  ["before year 1", { seconds: -62_135_596_801n, nanos: 0 }, "start_time.seconds"],
])("a start_time with %s is INVALID_ARGUMENT naming the field", async (_, start, field) => {
  const before = reads;
  await expect(audit.list(request(start), true)).rejects.toMatchObject({ code: "invalid_argument", violations: [{ field }] });
  expect(reads).toBe(before);
});

test("both ends are checked, and valid ones (the range's edges included) are read", async () => {
  await expect(audit.list(request({ seconds: 0n, nanos: 0 }, { seconds: 253_402_300_800n, nanos: 0 }), true)).rejects.toMatchObject({
    violations: [{ field: "end_time.seconds" }],
  });
  const before = reads;
  await audit.list(request({ seconds: -62_135_596_800n, nanos: 0 }, { seconds: 253_402_300_799n, nanos: 999_999_999 }), true);
  expect(reads).toBe(before + 1);
});
