// Generates a benchmark database fast: one transaction of prepared inserts straight into the store's tables.
// Shape: organizations, each with a chain of 8 nested folders (depths 2-9) and projects at every depth up to 10;
// every organization and folder has a policy of up to 20 bindings, every other project one of up to 5.
import { create, toBinary } from "@bufbuild/protobuf";
import { BindingSchema, PolicySchema } from "../gen/policy/v1/policy_pb.js";
import { openDatabase } from "../src/store/sqlite/database.js";

export interface Dataset {
  resources: number;
  policies: number;
  /** A resource at depth 1, 3, 4 and 10 (root = depth 1), each with a policy on every level above it. */
  targets: { depth1: string; depth3: string; depth4: string; depth10: string };
  /** A folder whose subtree has policies, for a ListPolicies page. */
  listParent: string;
  seconds: number;
}

const FOLDER_CHAIN = 8;

/**
 * `memberIndex`: also the member index's rows of every binding (as a server's writes make them), for benchmarks that
 * copy or scan whole stores; the serving benchmarks leave it empty.
 */
export function generateDataset(path: string, resources: number, maxBindings = 20, options: { memberIndex?: boolean } = {}): Dataset {
  const started = performance.now();
  const db = openDatabase(path);
  const insertResource = db.prepare(
    `INSERT INTO resources (id, name, parent_id, path, type, display_name, create_seq, revision, create_time, update_time)
     VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?)`,
  );
  const insertPolicy = db.prepare(
    `INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time) VALUES (?, 'policy', '', ?, ?, ?, ?)`,
  );
  const insertGrant = db.prepare(`INSERT OR IGNORE INTO member_grants (member, role, path, resource_id) VALUES (?, ?, ?, ?)`);
  const now = Date.now();
  let id = 0;
  let seq = 0;
  let policies = 0;
  const policyOf = (type: string, n: number, salt: number) => {
    const roles = type === "organization" ? ["roles/owner", "roles/viewer"] : type === "folder" ? ["roles/editor", "roles/viewer"] : ["roles/owner", "roles/viewer"];
    const bindings = Array.from({ length: n }, (_, i) =>
      create(BindingSchema, { role: roles[i % 2]!, members: [`user:u${salt}_${i}@example.com`, `group:g${i % 7}`] }),
    );
    return create(PolicySchema, { version: 1, bindings });
  };
  const add = (name: string, type: string, parentId: number | null, parentPath: string, bindings: number): [number, string] => {
    id++;
    seq++;
    const path = `${parentPath}${id}/`;
    insertResource.run(id, name, parentId, path, type, seq, seq, now, now);
    if (bindings > 0) {
      seq++;
      const policy = policyOf(type, bindings, id);
      insertPolicy.run(id, toBinary(PolicySchema, policy), policy.bindings.length, seq, now);
      policies++;
      if (options.memberIndex) {
        for (const binding of policy.bindings) for (const member of binding.members) insertGrant.run(member, binding.role, path, id);
      }
    }
    return [id, path];
  };
  let targets = { depth1: "", depth3: "", depth4: "", depth10: "" };
  let listParent = "";
  db.transaction(() => {
    const perOrg = Math.max(FOLDER_CHAIN + 2, Math.min(1000, resources));
    for (let org = 0; id < resources; org++) {
      const orgName = `organizations/o${org}`;
      const [orgId, orgPath] = add(orgName, "organization", null, "/", maxBindings);
      const chain: [number, string][] = [[orgId, orgPath]];
      for (let depth = 2; depth <= FOLDER_CHAIN + 1; depth++) {
        const [parentId, parentPath] = chain.at(-1)!;
        chain.push(add(`folders/o${org}_f${depth}`, "folder", parentId, parentPath, 1 + ((depth * 7) % maxBindings)));
      }
      for (let p = 0; id < resources && p < perOrg - FOLDER_CHAIN - 1; p++) {
        // Projects at every depth 2..10: under the org or under the folder one level above.
        const [parentId, parentPath] = chain[p % chain.length]!;
        add(`projects/o${org}_p${p}`, "project", parentId, parentPath, p % 2 === 0 ? 1 + (p % 5) : 0);
      }
      if (org === 0) {
        targets = { depth1: orgName, depth3: `folders/o0_f3`, depth4: `folders/o0_f4`, depth10: `projects/o0_p${FOLDER_CHAIN}` };
        listParent = `folders/o0_f2`;
      }
    }
    // One change-log row moves the sequence past every revision used, so new writes get fresh etags.
    // With the place columns the store writes (empty for a row about no resource), so the row copies to PostgreSQL.
    db.prepare(
      `INSERT INTO change_log (seq, time, principal, action, resource, change, resource_type, parent, lineage)
       VALUES (?, ?, 'bench', 'bulk.load', '', NULL, '', '', '[]')`,
    ).run(seq + 1, now);
  })();
  db.close();
  return { resources: id, policies, targets, listParent, seconds: (performance.now() - started) / 1000 };
}
