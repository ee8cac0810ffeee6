import { create } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { PolicySchema } from "./gen/policy/v1/policy_pb.ts";
import { CreateSharedPolicyBindingRequestSchema, CreateSharedPolicyRequestSchema, UpdateSharedPolicyRequestSchema } from "./gen/policy/v1/shared_policy_service_pb.ts";
import { Access } from "./src/domain/access/access.ts";
import { Authorizer } from "./src/domain/access/authorizer.ts";
import { PageTokens } from "./src/domain/page-token.ts";
import { parseSchema } from "./src/schema/schema-loader.ts";
import { SharedPolicies } from "./src/domain/shared-policies.ts";
import { SqliteStore } from "./src/store/sqlite/sqlite-store.ts";
import { CachingStore } from "./src/store/caching-store.ts";
const schema = parseSchema(readFileSync("./schema/default.yaml", "utf8"), "default.yaml");
const ADMIN = { principal: "user:root@example.com", identities: ["user:root@example.com"] };
const dir = "/tmp/meas/db" + Date.now();
const bare = new SqliteStore(dir + "/p.db");
const store = new CachingStore(bare);
await store.createResource({ name: "organizations/o", parent: "", type: "organization", displayName: "" }, ADMIN);
const authorizer = new Authorizer(new Access(store, schema), schema, new Set([ADMIN.principal]), true);
const shared = new SharedPolicies(store, schema, new PageTokens(await store.pageTokenKey()), authorizer);
await shared.create(create(CreateSharedPolicyRequestSchema, { parent: "organizations/o", sharedPolicyId: "b", sharedPolicy: {} }), ADMIN);
const names: string[] = [];
for (let i = 0; i < 1000; i++) {
  const name = `projects/p${String(i).padStart(4, "0")}`; names.push(name);
  await store.createResource({ name, parent: "organizations/o", type: "project", displayName: "" }, ADMIN);
  await shared.createBinding(create(CreateSharedPolicyBindingRequestSchema, { binding: { sharedPolicy: "sharedPolicies/b", target: name } }), ADMIN);
}
for (let r = 0; r < 3; r++) {
  let t = performance.now();
  for (const n of names.slice(0, 32)) await bare.ancestry(n);
  console.log("bare ancestry x32", (performance.now() - t).toFixed(1), "ms");
  t = performance.now();
  for (const n of names.slice(0, 32)) await bare.getResource(n);
  console.log("bare getResource x32", (performance.now() - t).toFixed(1), "ms");
}
await store.close();
