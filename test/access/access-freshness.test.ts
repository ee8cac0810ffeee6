// The Access facade against a store whose reads really are asynchronous (as a PostgreSQL store's will be): a check
// still sees every write the store acknowledged before it, even when it joins a catch-up that began earlier.
import { create, toBinary } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { AccessState, CheckAccessRequestSchema } from "../../gen/policy/v1/access_service_pb.js";
import { PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { ResourceSchema } from "../../gen/policy/v1/resource_pb.js";
import { Access } from "../../src/domain/access/access.js";
import { parseSchema } from "../../src/domain/schema/schema-loader.js";
import { ServiceError } from "../../src/errors.js";
import type { ChangeRecord, SnapshotEntry, Store } from "../../src/store/store.js";

const schema = parseSchema(readFileSync(new URL("../../schema/default.yaml", import.meta.url), "utf8"), "default.yaml");
const ADA = "user:ada@example.com";

/**
 * Just the change-log side of a Store. A read takes the log as it is when called, but answers only when `release()`d,
 * like a query whose result is in flight while the server goes on with other requests.
 */
class SlowLogStore {
  writtenSequence = 0;
  private readonly log: ChangeRecord[] = [];
  private readonly inFlight: (() => void)[] = [];

  append(change: Omit<ChangeRecord, "seq">): number {
    const seq = this.log.length + 1;
    this.log.push({ ...change, seq });
    this.writtenSequence = seq;
    return seq;
  }

  createResource(name: string, parent = ""): number {
    const type = name.startsWith("organizations/") ? "organization" : name.startsWith("clouds/") ? "cloud" : "project";
    const state = toBinary(ResourceSchema, create(ResourceSchema, { name, parent, type }));
    return this.append({ action: "resource.create", resource: name, state });
  }

  grant(resource: string, role: string, member: string): number {
    const state = toBinary(PolicySchema, create(PolicySchema, { version: 1, bindings: [{ role, members: [member] }] }));
    return this.append({ action: "policy.set", resource, state });
  }

  readChanges(afterSeq: number, limit: number): Promise<ChangeRecord[]> {
    const rows = this.log.filter((c) => c.seq > afterSeq).slice(0, limit);
    return new Promise((resolve) => this.inFlight.push(() => resolve(rows)));
  }

  /** Answers every read in flight, and keeps answering new ones until `settle` returns. */
  async settle<T>(work: Promise<T>): Promise<T> {
    let done = false;
    void work.finally(() => (done = true)).catch(() => undefined);
    while (!done) {
      this.inFlight.splice(0).forEach((answer) => answer());
      await new Promise((resolve) => setImmediate(resolve));
    }
    return work;
  }

  async snapshot(_visit: (entry: SnapshotEntry) => void): Promise<number> {
    return 0;
  }

  asStore(): Store {
    return this as unknown as Store;
  }
}

function request(resource: string, minSequence = 0) {
  return create(CheckAccessRequestSchema, {
    resource,
    principals: [ADA],
    permissions: ["projects.delete"],
    minSequence: BigInt(minSequence),
  });
}

describe("a check that joins a catch-up begun before the latest write", () => {
  test("still answers from the latest acknowledged write", async () => {
    const store = new SlowLogStore();
    const access = await Access.open(store.asStore(), schema);
    store.createResource("organizations/o");
    store.createResource("projects/p", "organizations/o");
    // A first check starts a catch-up; its read of the log is in flight...
    const earlier = access.check(request("projects/p"));
    // ...when a write is acknowledged, and then a second check comes in.
    store.grant("organizations/o", "roles/owner", ADA);
    const later = access.check(request("projects/p"));

    const [, response] = await store.settle(Promise.all([earlier, later]));
    expect(AccessState[response.results[0]!.state]).toBe("GRANTED");
    access.close();
  });

  test("with min_sequence of that write: answers, rather than FAILED_PRECONDITION", async () => {
    const store = new SlowLogStore();
    const access = await Access.open(store.asStore(), schema);
    store.createResource("organizations/o");
    store.createResource("projects/p", "organizations/o");
    const earlier = access.check(request("projects/p"));
    const seq = store.grant("organizations/o", "roles/owner", ADA);
    const later = access.check(request("projects/p", seq));

    const [, response] = await store.settle(Promise.all([earlier, later])).catch((e: unknown) => {
      throw e instanceof ServiceError ? new Error(`${e.code}: ${e.message}`) : e;
    });
    expect(response.grantedPermissions).toEqual(["projects.delete"]);
    expect(response.sequence).toBeGreaterThanOrEqual(BigInt(seq));
    access.close();
  });

  test("a min_sequence the log has not reached is still FAILED_PRECONDITION", async () => {
    const store = new SlowLogStore();
    const access = await Access.open(store.asStore(), schema);
    store.createResource("organizations/o");
    const failure = await store.settle(access.check(request("organizations/o", 99))).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ServiceError);
    expect((failure as ServiceError).code).toBe("failed_precondition");
    access.close();
  });
});
