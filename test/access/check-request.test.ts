// A CheckAccess request as the domain's Access facade judges it (domain/access/access.ts), over a real SQLite store:
// the bounds of its attributes at their limits, what conditions read from attributes of each kind, the sequence it
// answers with, and the permissions it names.
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { afterEach, beforeEach, expect, test } from "vitest";
import { AccessState, CheckAccessRequestSchema } from "../../gen/policy/v1/access_service_pb.js";
import { AuditLogConfig_LogType } from "../../gen/policy/v1/policy_pb.js";
import { Access, MAX_ATTRIBUTE_DEPTH, MAX_ATTRIBUTES_SIZE, MAX_PERMISSIONS } from "../../src/domain/access/access.js";
import { ServiceError } from "../../src/service-error.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { binding, defaultSchema, policy } from "../helpers/fixtures.js";
import { createResource } from "../../src/store/store.js";

const ROOT = { principal: "user:root@example.com" };
const ORG = "organizations/o";
const PROJECT = "projects/p";
const ADA = "user:ada@example.com";

let store: Store;
let access: Access;

beforeEach(async () => {
  store = new SqliteStore(":memory:");
  access = new Access(store, defaultSchema);
  await createResource(store, { name: ORG, parent: "", type: "organization", displayName: "" }, ROOT);
  await createResource(store, { name: PROJECT, parent: ORG, type: "project", displayName: "" }, ROOT);
});

afterEach(async () => {
  await store.close();
});

interface Request {
  permissions?: string[];
  attributes?: Record<string, JsonValue>;
  minSequence?: bigint;
  explain?: boolean;
}

function check({ permissions = ["projects.get"], attributes = {}, minSequence = 0n, explain = false }: Request = {}) {
  const request = create(CheckAccessRequestSchema, {
    resource: PROJECT,
    principals: [ADA],
    permissions,
    attributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, fromJson(ValueSchema, v)])),
    minSequence,
    explain,
  });
  return access.check(request, access.resolve(PROJECT));
}

/** The field violations of a refused request, as `field: description`. */
async function refusal(request: Request): Promise<string[]> {
  const error = await check(request).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceError);
  const { code, violations } = error as ServiceError;
  expect(code).toBe("invalid_argument");
  return (violations ?? []).map((v) => `${v.field}: ${v.description}`);
}

const TOO_LARGE = `attributes: larger than ${MAX_ATTRIBUTES_SIZE} (characters of keys and strings, plus one per value)`;
const TOO_DEEP = `attributes: nested more than ${MAX_ATTRIBUTE_DEPTH} levels deep`;

test("attributes count the characters of keys and strings plus one per value: exactly the limit is accepted", async () => {
  // "k" (1) + a string value (1 + its length).
  const atLimit = "a".repeat(MAX_ATTRIBUTES_SIZE - 2);
  await expect(check({ attributes: { k: atLimit } })).resolves.toBeDefined();
  expect(await refusal({ attributes: { k: `${atLimit}a` } })).toEqual([TOO_LARGE]);
  // Two keys: "k" and "kk" (3) + two values (2) + the string.
  const twoKeys = "a".repeat(MAX_ATTRIBUTES_SIZE - 5);
  await expect(check({ attributes: { k: twoKeys, kk: 1 } })).resolves.toBeDefined();
  expect(await refusal({ attributes: { k: `${twoKeys}a`, kk: 1 } })).toEqual([TOO_LARGE]);
});

test("inside lists and structs, each element and each struct key counts too", async () => {
  // "l" (1) + the list (1) + two elements (1 + n, and 1 for a number).
  const inList = "a".repeat(MAX_ATTRIBUTES_SIZE - 4);
  await expect(check({ attributes: { l: [inList, 1] } })).resolves.toBeDefined();
  expect(await refusal({ attributes: { l: [`${inList}a`, 1] } })).toEqual([TOO_LARGE]);
  // "s" (1) + the struct (1) + its key "kk" (2) + its value (1 + n).
  const inStruct = "a".repeat(MAX_ATTRIBUTES_SIZE - 5);
  await expect(check({ attributes: { s: { kk: inStruct } } })).resolves.toBeDefined();
  expect(await refusal({ attributes: { s: { kk: `${inStruct}a` } } })).toEqual([TOO_LARGE]);
});

test(`attributes nested ${MAX_ATTRIBUTE_DEPTH} levels are accepted, one more is refused, in lists and in structs`, async () => {
  const nestedList = (levels: number): JsonValue => (levels === 1 ? 1 : [nestedList(levels - 1)]);
  const nestedStruct = (levels: number): JsonValue => (levels === 1 ? "v" : { k: nestedStruct(levels - 1) });
  await expect(check({ attributes: { d: nestedList(MAX_ATTRIBUTE_DEPTH) } })).resolves.toBeDefined();
  expect(await refusal({ attributes: { d: nestedList(MAX_ATTRIBUTE_DEPTH + 1) } })).toEqual([TOO_DEEP]);
  await expect(check({ attributes: { d: nestedStruct(MAX_ATTRIBUTE_DEPTH) } })).resolves.toBeDefined();
  expect(await refusal({ attributes: { d: nestedStruct(MAX_ATTRIBUTE_DEPTH + 1) } })).toEqual([TOO_DEEP]);
  // Far too deep and too large at once: both are said.
  expect(await refusal({ attributes: { d: nestedList(50), s: "a".repeat(MAX_ATTRIBUTES_SIZE) } })).toEqual([TOO_LARGE, TOO_DEEP]);
});

test("conditions read attributes as CEL values: structs as maps, lists, numbers as doubles, booleans, null", async () => {
  const conditional = (expression: string) => policy({ version: 3, bindings: [binding("roles/readonly", [ADA], expression)] });
  const stateWith = async (expression: string, attributes: Record<string, JsonValue>) => {
    await store.updatePolicy(PROJECT, () => conditional(expression), ROOT);
    const response = await check({ attributes });
    return AccessState[response.results[0]!.state];
  };
  expect(await stateWith('request.attributes["s"]["team"] == "blue"', { s: { team: "blue" } })).toBe("GRANTED");
  expect(await stateWith('request.attributes["s"]["team"] == "blue"', { s: { team: "red" } })).toBe("NOT_GRANTED");
  expect(await stateWith('request.attributes["l"][1] == "b" && size(request.attributes["l"]) == 2', { l: ["a", "b"] })).toBe("GRANTED");
  expect(await stateWith('request.attributes["n"] == 2.5', { n: 2.5 })).toBe("GRANTED");
  expect(await stateWith('request.attributes["b"] == true', { b: true })).toBe("GRANTED");
  expect(await stateWith('request.attributes["z"] == null', { z: null })).toBe("GRANTED");
  expect(await stateWith('request.attributes["z"] == null', { z: "x" })).toBe("NOT_GRANTED");
});

test("the answer names the granted permissions in the request's order and the sequence it reflects", async () => {
  await store.updatePolicy(PROJECT, () => policy({ bindings: [binding("roles/owner", [ADA])] }), ROOT);
  await store.updatePolicy(ORG, () => policy({ bindings: [binding("roles/checker", ["user:bob@example.com"])] }), ROOT);
  const sequence = await store.latestSequence();
  const response = await check({ permissions: ["projects.update", "organizations.delete", "projects.get"], minSequence: BigInt(sequence) });
  expect(response.grantedPermissions).toEqual(["projects.update", "projects.get"]);
  expect(response.results.map((r) => AccessState[r.state])).toEqual(["GRANTED", "NOT_GRANTED", "GRANTED"]);
  expect(response.sequence).toBe(BigInt(sequence));
  expect(response.partialExplanations).toBe(false);
  const ahead = await check({ minSequence: BigInt(sequence) + 1n }).catch((e: unknown) => e);
  expect(ahead).toBeInstanceOf(ServiceError);
  expect((ahead as ServiceError).code).toBe("failed_precondition");
  expect((ahead as ServiceError).message).toBe(`min_sequence ${sequence + 1} is ahead of the store; pass a sequence a write returned`);
});

test("the permissions a request names: one to the limit, concrete, known", async () => {
  // The schema has fewer permissions than the limit: a request may repeat one.
  const known = [...defaultSchema.permissions];
  const all = Array.from({ length: MAX_PERMISSIONS }, (_, i) => known[i % known.length]!);
  await expect(check({ permissions: all })).resolves.toBeDefined();
  expect(await refusal({ permissions: [...all, "projects.get"] })).toEqual([`permissions: at most ${MAX_PERMISSIONS} per request`]);
  expect(await refusal({ permissions: [] })).toEqual(["permissions: name at least one permission, e.g. projects.get"]);
  expect(await refusal({ permissions: ["projects.get", "", "projects.*", "projects.fly"] })).toEqual([
    "permissions[1]: is required, e.g. projects.get",
    'permissions[2]: "projects.*": wildcards are not allowed; name concrete permissions',
    'permissions[3]: unknown permission "projects.fly"; no role of the schema grants it',
  ]);
  expect(await refusal({ minSequence: -1n })).toEqual(["min_sequence: must not be negative"]);
});

test("an absent resource is NOT_FOUND, a malformed name or principal INVALID_ARGUMENT at its field; reads of an absent one are not audited", async () => {
  const absent = await access.check(create(CheckAccessRequestSchema, { resource: "projects/absent", principals: [ADA], permissions: ["projects.get"] }), access.resolve("projects/absent")).catch((e: unknown) => e as ServiceError);
  expect((absent as ServiceError).code).toBe("not_found");
  const malformed = await access.check(create(CheckAccessRequestSchema, { resource: "projects", principals: [ADA], permissions: ["projects.get"] }), access.resolve("projects")).catch((e: unknown) => e as ServiceError);
  expect((malformed as ServiceError).violations.map((v) => v.field)).toEqual(["resource"]);
  const badPrincipal = await access.check(create(CheckAccessRequestSchema, { resource: PROJECT, principals: ["nonsense"], permissions: ["projects.get"] }), access.resolve(PROJECT)).catch((e: unknown) => e as ServiceError);
  expect((badPrincipal as ServiceError).violations.map((v) => v.field)).toEqual(["principals[0]"]);
  expect(await access.auditsRead(access.resolve("projects/absent"), "policy.v1.PolicyService", AuditLogConfig_LogType.DATA_READ, [ADA])).toBe(false);
});
