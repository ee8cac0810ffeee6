// --db: a file path is SQLite, a postgres:// or postgresql:// URL is PostgreSQL, any other scheme is refused before
// anything is created (once it made a folder named "mysql:" holding a SQLite file).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { loadConfig } from "../../src/config.js";
import { parseDb, redactedDb } from "../../src/store/db-url.js";
import { REPO_ROOT, runServerToExit } from "../helpers/child-server.js";

describe("--db", () => {
  test("paths, PostgreSQL URLs and refused schemes", () => {
    expect(parseDb("./data/policy.db")).toEqual({ kind: "sqlite", path: "./data/policy.db" });
    expect(parseDb("C:\\data\\policy.db").kind).toBe("sqlite");
    expect(parseDb("postgres://u@h/db").kind).toBe("postgres");
    expect(parseDb("PostgreSQL://u@h/db").kind).toBe("postgres");
    expect(() => parseDb("mysql://u@h/db")).toThrow(/"mysql:\/\/" is not a database this server can use/);
    expect(redactedDb("postgres://u:secret@h/db")).toBe("postgres://u:***@h/db");
    expect(() => loadConfig(["--db", "sqlite://x.db"], {})).toThrow(/not a database/);
    expect(() => loadConfig([], { POLICY_DB: "redis://h" })).toThrow(/not a database/);
    expect(loadConfig(["--db", "postgresql://h/db", "--db-pool", "3", "--db-statement-timeout-ms", "900"], {})).toMatchObject({
      dbPool: 3,
      dbStatementTimeoutMs: 900,
    });
    expect(() => loadConfig(["--db-pool", "0"], {})).toThrow(/--db-pool/);
  });

  test("the server refuses another scheme at start and creates nothing", async () => {
    const exit = await runServerToExit(["--db", "mysql://root@127.0.0.1/policy"]);
    expect(exit.code).toBe(2);
    expect(exit.stderr).toMatch(/"mysql:\/\/" is not a database this server can use/);
    expect(existsSync(join(REPO_ROOT, "mysql:"))).toBe(false);
  });
});
