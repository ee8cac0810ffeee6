import Sqlite from "better-sqlite3";
import { DENY_COLUMNS, FROM_RESOURCES, JOIN_DENY, POLICY_COLUMNS, RESOURCE_COLUMNS } from "./src/store/rows.js";
const sql = `SELECT ${RESOURCE_COLUMNS}, ${POLICY_COLUMNS}, ${DENY_COLUMNS}
  ${FROM_RESOURCES} LEFT JOIN policies pol ON pol.resource_id = r.id ${JOIN_DENY}
  WHERE r.path > @after AND r.path < @end AND (@types IS NULL OR r.type IN (SELECT value FROM json_each(@types)))
  ORDER BY r.path LIMIT @limit`;
const toRow = (a: any[]) => ({ id: a[0], name: a[1], path: a[2], parent: a[3], type: a[4], display_name: a[5], create_seq: a[6], revision: a[7], create_time: a[8], update_time: a[9], policy: a[10], policy_revision: a[11], policy_update_time: a[12], deny: a[13], deny_revision: a[14], deny_update_time: a[15] });
for (const mode of ["obj", "raw", "obj", "raw", "obj", "raw"]) {
  const db = new Sqlite(process.argv[2]!, { readonly: true });
  db.pragma("mmap_size = 1073741824");
  const st = db.prepare(sql); if (mode === "raw") st.raw(true);
  const path = db.prepare("select path from resources where name='organizations/edge'").pluck().get() as string;
  const cpu = process.cpuUsage(); let after = path.slice(0, -1); let n = 0;
  for (;;) { let rows = st.all({ after, end: path.slice(0,-1) + String.fromCharCode(path.charCodeAt(path.length-1)+1), types: null, limit: 1000 }) as any[]; if (mode === "raw") rows = rows.map(toRow); if (!rows.length) break; n += rows.length; after = rows.at(-1).path; }
  const c = process.cpuUsage(cpu);
  console.log(mode, n, ((c.user + c.system) / 1000).toFixed(0), "ms cpu");
  db.close();
}
