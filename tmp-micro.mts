import { create, toBinary } from "@bufbuild/protobuf";
import { SnapshotRequestSchema, SnapshotResponseSchema } from "./gen/policy/v1/snapshot_service_pb.js";
import { Access } from "./src/domain/access/access.js";
import { Authorizer } from "./src/domain/access/authorizer.js";
import { Snapshots } from "./src/domain/snapshot.js";
import { SqliteStore } from "./src/store/sqlite/sqlite-store.js";
import { defaultSchema } from "./test/domain/fixtures.js";
const db = process.argv[2]!;
const store = new SqliteStore(db);
const ADMIN = { principal: "user:root@example.com", identities: ["user:root@example.com"] };
const authorizer = new Authorizer(new Access(store as never, defaultSchema), defaultSchema, new Set([ADMIN.principal]), true);
const snaps = new Snapshots(store as never, defaultSchema, authorizer);
for (const encoded of (process.env.MODES ?? "0,1,0,1,1").split(",").map((m) => m === "1")) {
  const cpu = process.cpuUsage(); const t = performance.now(); let n = 0, bytes = 0;
  for await (const page of snaps.snapshot(create(SnapshotRequestSchema, { subtree: "organizations/edge", pageSize: 1000 }), ADMIN, undefined, encoded)) {
    bytes += toBinary(SnapshotResponseSchema, page).length; n++;
  }
  const c = process.cpuUsage(cpu);
  console.log(encoded ? "encoded" : "decoded", n, "pages", bytes, "bytes", ((c.user + c.system) / 1000).toFixed(0), "ms cpu", (performance.now() - t).toFixed(0), "ms wall");
}
