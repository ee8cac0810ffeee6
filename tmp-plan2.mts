import Sqlite from "better-sqlite3";
import { DENY_COLUMNS, FROM_RESOURCES, JOIN_DENY, POLICY_COLUMNS, RESOURCE_COLUMNS } from "./src/store/rows.js";
const sql = `SELECT ${RESOURCE_COLUMNS}, ${POLICY_COLUMNS}, ${DENY_COLUMNS}
  ${FROM_RESOURCES} LEFT JOIN policies pol ON pol.resource_id = r.id ${JOIN_DENY}
  WHERE r.path > @after AND r.path < @end AND (@types IS NULL OR r.type IN (SELECT value FROM json_each(@types)))
  ORDER BY r.path LIMIT @limit`;
for (const pragma of ["", "cache_size = -65536", "mmap_size = 1073741824", "", "cache_size = -65536", "mmap_size = 1073741824"]) {
  const db = new Sqlite(process.argv[2]!, { readonly: true });
  if (pragma) db.pragma(pragma);
  const st = db.prepare(sql);
  const path = db.prepare("select path from resources where name='organizations/edge'").pluck().get() as string;
  const cpu = process.cpuUsage();
  let t = performance.now(); let after = path.slice(0, -1); let n = 0;
  for (;;) { const rows = st.all({ after, end: path.slice(0,-1) + String.fromCharCode(path.charCodeAt(path.length-1)+1), types: null, limit: 1000 }) as any[]; if (!rows.length) break; n += rows.length; after = rows.at(-1).path; }
  const c = process.cpuUsage(cpu);
  console.log(pragma || "default", n, (performance.now() - t).toFixed(0), "ms wall", ((c.user + c.system) / 1000).toFixed(0), "ms cpu", "sys", (c.system/1000).toFixed(0));
  db.close();
}
