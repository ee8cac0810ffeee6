// PostgreSQL for tests: fresh databases with random names on the machine's server (POLICY_TEST_PG, default
// postgres://root@127.0.0.1:5432/postgres), dropped afterwards. Where no server answers, PostgreSQL tests skip with
// one printed line — except under CI=true, where a PostgreSQL test that cannot run fails.
import { randomBytes } from "node:crypto";
import pg from "pg";

export const ADMIN_URL = process.env.POLICY_TEST_PG ?? "postgres://root@127.0.0.1:5432/postgres";
const underCi = ["1", "true"].includes((process.env.CI ?? "").toLowerCase());

async function probe(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

// vitest.config.ts found nothing listening and said so: no need to wait for a connection to fail.
const unreachable = process.env.POLICY_TEST_PG_SKIP === "1" && !underCi ? "not listening" : await probe();
let told = false;

/**
 * Whether PostgreSQL tests can run here. False (after printing why, once) where no server answers; under CI it throws
 * instead, so the run fails rather than passing without them.
 */
export function postgresAvailable(): boolean {
  if (unreachable === undefined) return true;
  if (process.env.POLICY_TEST_PG_SKIP === "1" && !underCi) return false;
  if (underCi) throw new Error(`CI=true and PostgreSQL is not reachable at ${ADMIN_URL}: ${unreachable}`);
  if (!told) console.log(`PostgreSQL not reachable at ${ADMIN_URL} (${unreachable}): skipping the PostgreSQL tests`);
  told = true;
  return false;
}

export interface PostgresDatabase {
  url: string;
  drop(): Promise<void>;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A new empty database with a random name; drop() removes it (closing what is still connected to it). */
export async function createPostgresDatabase(): Promise<PostgresDatabase> {
  const name = `policy_test_${randomBytes(6).toString("hex")}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** Which store the integration tests run on: POLICY_TEST_DB=postgres (the "postgres" vitest project) or SQLite. */
export const testStore = process.env.POLICY_TEST_DB === "postgres" ? "postgres" : "sqlite";

/** A fresh database for a test server: a SQLite file in `dir`, or a new PostgreSQL database under POLICY_TEST_DB=postgres. */
export async function testDatabase(dir: string): Promise<{ db: string; drop(): Promise<void> }> {
  if (testStore === "sqlite") return { db: `${dir}/policy.db`, drop: async () => undefined };
  if (!postgresAvailable()) throw new Error(`POLICY_TEST_DB=postgres but PostgreSQL is not reachable at ${ADMIN_URL}`);
  const database = await createPostgresDatabase();
  return { db: database.url, drop: database.drop };
}
