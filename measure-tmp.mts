import { create } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { PolicySchema } from "./gen/policy/v1/policy_pb.ts";
import { CreateSharedPolicyBindingRequestSchema, CreateSharedPolicyRequestSchema, UpdateSharedPolicyRequestSchema, ListSharedPolicyBindingsRequestSchema } from "./gen/policy/v1/shared_policy_service_pb.ts";
import { Access } from "./src/domain/access/access.ts";
import { Authorizer } from "./src/domain/access/authorizer.ts";
import { PageTokens } from "./src/domain/page-token.ts";
import { parseSchema } from "./src/schema/schema-loader.ts";
import { SharedPolicies } from "./src/domain/shared-policies.ts";
import { SqliteStore } from "./src/store/sqlite/sqlite-store.ts";
import { CachingStore } from "./src/store/caching-store.ts";
const schema = parseSchema(readFileSync("./schema/default.yaml", "utf8"), "default.yaml");
const ADMIN = { principal: "user:root@example.com", identities: ["user:root@example.com"] };
const OWNER = { principal: "user:o@example.com", identities: ["user:o@example.com"] };
const READER = { principal: "user:r@example.com", identities: ["user:r@example.com"] };
const dir = "/tmp/meas/db" + Date.now();
const store = new CachingStore(new SqliteStore(dir + "/p.db"));
await store.createResource({ name: "organizations/o", parent: "", type: "organization", displayName: "" }, ADMIN);
await store.updatePolicy("organizations/o", () => create(PolicySchema, { bindings: [{ role: "roles/owner", members: [OWNER.principal] }] }), ADMIN);
const authorizer = new Authorizer(new Access(store, schema), schema, new Set([ADMIN.principal]), true);
const shared = new SharedPolicies(store, schema, new PageTokens(await store.pageTokenKey()), authorizer);
await shared.create(create(CreateSharedPolicyRequestSchema, { parent: "organizations/o", sharedPolicyId: "b", sharedPolicy: {} }), ADMIN);
await store.updatePolicy("sharedPolicies/b", () => create(PolicySchema, { bindings: [{ role: "roles/readonly", members: [READER.principal] }] }), ADMIN);
for (let i = 0; i < 1000; i++) {
  const name = `projects/p${String(i).padStart(4, "0")}`;
  await store.createResource({ name, parent: "organizations/o", type: "project", displayName: "" }, ADMIN);
  await shared.createBinding(create(CreateSharedPolicyBindingRequestSchema, { binding: { sharedPolicy: "sharedPolicies/b", target: name } }), ADMIN);
}
const time = async (label: string, f: () => Promise<unknown>) => {
  const h = monitorEventLoopDelay({ resolution: 1 }); h.enable();
  const t = performance.now(); await f(); const ms = performance.now() - t; h.disable();
  console.log(label, ms.toFixed(1), "ms; longest event-loop stall", (h.max / 1e6).toFixed(1), "ms");
};
for (let round = 0; round < 3; round++) {
  await time(`update bindings by org owner, 1000 targets (cold: the previous update evicted them), round ${round}`, () => shared.update(create(UpdateSharedPolicyRequestSchema, { sharedPolicy: { name: "sharedPolicies/b", bindings: [{ role: "roles/readonly", members: [`user:x${round}@example.com`] }] }, updateMask: { paths: ["bindings"] } }), OWNER));
}
for (let round = 0; round < 3; round++) {
  await time(`update bindings by an administrator (no checks), round ${round}`, () => shared.update(create(UpdateSharedPolicyRequestSchema, { sharedPolicy: { name: "sharedPolicies/b", bindings: [{ role: "roles/readonly", members: [`user:y${round}@example.com`] }] }, updateMask: { paths: ["bindings"] } }), ADMIN));
  await time(`1000 ancestry reads in turns of 32 after it`, async () => { for (let i = 0; i < 1000; i += 32) { await Promise.all(Array.from({length: 32}, (_, j) => store.ancestry(`projects/p${String(i + j).padStart(4, "0")}`))); await new Promise((r) => setImmediate(r)); } });
}
for (let round = 0; round < 3; round++) {
  await time(`list targets (page 50) by a reader seeing none of 1000, round ${round}`, () => shared.listBindings(create(ListSharedPolicyBindingsRequestSchema, { sharedPolicy: "sharedPolicies/b", pageSize: 50 }), READER));
}
await store.close();
