// The machine's durable-commit ceiling: sequential one-row transactions on SQLite with the store's own settings
// (WAL, synchronous=FULL), so every commit waits for its fsync — what one writer can acknowledge per second.
import { openDatabase } from "../src/store/sqlite/database.js";

export function durableCommitCeiling(path: string, commits: number): number {
  const db = openDatabase(path);
  db.exec("CREATE TABLE ceiling (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)");
  const insert = db.prepare("INSERT INTO ceiling (payload) VALUES (?)");
  const payload = Buffer.alloc(256, 7);
  const write = db.transaction(() => insert.run(payload));
  const started = performance.now();
  for (let i = 0; i < commits; i++) write.immediate();
  const seconds = (performance.now() - started) / 1000;
  db.close();
  return commits / seconds;
}
