import { create, toBinary } from "@bufbuild/protobuf";
import { BindingSchema, PolicySchema } from "./gen/policy/v1/policy_pb.js";
import { openDatabase } from "./src/store/sqlite/database.js";
const ORG = "organizations/edge"; const CLOUDS = 100; const RESOURCES = 100000;
/** The database: the big subtree inserted straight into the store's tables (one transaction), and a small org. */
function generate(path: string): void {
  const db = openDatabase(path);
  const insertResource = db.prepare(
    `INSERT INTO resources (id, name, parent_id, path, type, display_name, create_seq, revision, create_time, update_time)
     VALUES (?, ?, ?, ?, ?, '', 1, 1, ?, ?)`,
  );
  const insertPolicy = db.prepare(`INSERT INTO policies (resource_id, policy, binding_count, revision, update_time) VALUES (?, ?, 2, 1, ?)`);
  const now = Date.now();
  db.transaction(() => {
    let id = 0;
    const add = (name: string, type: string, parentId: number | null, parentPath: string): [number, string] => {
      id++;
      const path = `${parentPath}${id}/`;
      insertResource.run(id, name, parentId, path, type, now, now);
      return [id, path];
    };
    const [orgId, orgPath] = add(ORG, "organization", null, "/");
    const clouds = Array.from({ length: CLOUDS }, (_, i) => add(`clouds/edge_${i}`, "cloud", orgId, orgPath));
    for (let i = 0; i < RESOURCES - 1 - CLOUDS; i++) {
      const [cloudId, cloudPath] = clouds[i % CLOUDS]!;
      const [projectId] = add(`projects/edge_${i}`, "project", cloudId, cloudPath);
      const policy = create(PolicySchema, {
        version: 1,
        bindings: [
          create(BindingSchema, { role: "roles/collaborator", members: [`user:u${i}@example.com`] }),
          create(BindingSchema, { role: "roles/readonly", members: [`group:g${i % 50}`] }),
        ],
      });
      insertPolicy.run(projectId, toBinary(PolicySchema, policy), now);
    }
  })();
  db.close();
}

generate(process.argv[2]!);
