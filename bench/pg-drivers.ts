// `node --import tsx bench/pg-drivers.ts postgres://127.0.0.1/postgres`: the two PostgreSQL drivers side by side, on the
// two statements the store lives on — a read by primary key, and a single-row update in its own transaction — at the
// same pool size and concurrency. The loser is not a dependency: `npm install --no-save pg postgres` first.
import { randomBytes } from "node:crypto";

const url = process.argv[2] ?? "postgres://127.0.0.1/postgres";
const POOL = 8;
const CONCURRENCY = 32;
const SECONDS = 4;

interface Driver {
  read(id: number): Promise<unknown>;
  update(id: number): Promise<unknown>;
  end(): Promise<void>;
}

async function measure(name: string, op: (id: number) => Promise<unknown>): Promise<number> {
  let done = 0;
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await op(1 + Math.floor(Math.random() * 1000));
        done++;
      }
    }),
  );
  const rate = done / SECONDS;
  console.log(`${name}: ${Math.round(rate)} ops/s`);
  return rate;
}

async function nodePg(): Promise<Driver> {
  const { default: pg } = await import("pg");
  const pool = new pg.Pool({ connectionString: url, max: POOL });
  return {
    read: (id) => pool.query({ name: "r", text: "SELECT id, payload FROM driver_bench WHERE id = $1", values: [id] }),
    async update(id) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        await client.query({ name: "u", text: "UPDATE driver_bench SET n = n + 1 WHERE id = $1", values: [id] });
        await client.query("COMMIT");
      } finally {
        client.release();
      }
    },
    end: () => pool.end(),
  };
}

async function porsager(): Promise<Driver> {
  const { default: postgres } = await import("postgres");
  const sql = postgres(url, { max: POOL, onnotice: () => undefined });
  return {
    read: (id) => sql`SELECT id, payload FROM driver_bench WHERE id = ${id}`,
    update: (id) => sql.begin((tx) => tx`UPDATE driver_bench SET n = n + 1 WHERE id = ${id}`),
    end: () => sql.end(),
  };
}

const { default: pg } = await import("pg");
const setup = new pg.Client({ connectionString: url });
await setup.connect();
await setup.query("DROP TABLE IF EXISTS driver_bench");
await setup.query("CREATE TABLE driver_bench (id int PRIMARY KEY, n int NOT NULL, payload bytea NOT NULL)");
await setup.query("INSERT INTO driver_bench SELECT g, 0, $1 FROM generate_series(1, 1000) g", [randomBytes(300)]);
for (const [name, open] of [["pg", nodePg], ["postgres", porsager]] as const) {
  const driver = await open();
  await measure(`${name} warm-up read`, driver.read);
  await measure(`${name} read by key`, driver.read);
  await measure(`${name} one-row update transaction`, driver.update);
  await driver.end();
}
await setup.query("DROP TABLE driver_bench");
await setup.end();
