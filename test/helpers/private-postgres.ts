// A PostgreSQL cluster of the test's own (initdb in a temporary folder, on a free port), for tests that stop, crash or
// restart PostgreSQL: the machine's server is shared by every other test and must never be disturbed. Where no
// initdb is installed the tests skip with one printed line — except under CI=true, where they fail.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { removeDir, tempDir } from "./temp-dir.js";
import { waitFor } from "./wait.js";

const run = promisify(execFile);
const underCi = ["1", "true"].includes((process.env.CI ?? "").toLowerCase());
const CONTROL_LIMIT_MS = 60_000;

/**
 * The folder of initdb and pg_ctl: /usr/lib/postgresql/N/bin for the newest N in /etc/postgresql (the cluster .ci/run
 * starts: `ls /etc/postgresql | sort -V | tail -1`), else the newest N installed, else none.
 */
function binDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  const withInitdb = (versions: string[]) => versions.filter((v) => existsSync(join(root, v, "bin", "initdb")));
  const installed = existsSync(root) ? withInitdb(readdirSync(root)) : [];
  const clusters = existsSync("/etc/postgresql") ? withInitdb(readdirSync("/etc/postgresql")) : [];
  const version = newestVersion(clusters) ?? newestVersion(installed);
  return version && join(root, version, "bin");
}

/** The newest of versions such as "9.6", "15", "16" (compared as `sort -V` does, part by part). */
export function newestVersion(versions: string[]): string | undefined {
  const parts = (v: string) => v.split(".").map(Number);
  const compare = (a: string, b: string) => {
    const [pa, pb] = [parts(a), parts(b)];
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
    return 0;
  };
  return [...versions].sort(compare).at(-1);
}

const bin = binDir();
let told = false;

/** Whether a private cluster can be made here; false (said once) without initdb, an error under CI. */
export function privatePostgresAvailable(): boolean {
  if (bin) return true;
  if (underCi) throw new Error("CI=true and no PostgreSQL initdb under /usr/lib/postgresql/*/bin: install Debian's postgresql");
  if (!told) console.log("no PostgreSQL initdb under /usr/lib/postgresql/*/bin: skipping the tests that need a private cluster");
  told = true;
  return false;
}

export interface PrivateCluster {
  /** The URL of `database` (default: the maintenance database, "postgres"), as the superuser "postgres". */
  url(database?: string): string;
  /** A new empty database with a random name on this cluster. */
  createDatabase(): Promise<string>;
  /** `pg_ctl stop -m mode`; immediate is an abrupt stop (every backend killed, crash recovery at the next start). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again (after stop) and waits until it accepts connections. */
  start(): Promise<void>;
  /**
   * SIGSTOPs the server and every backend: connections stay open and new ones are accepted by the kernel, but nothing
   * answers, as with a hung server or a network partition. thaw() lets it run on.
   */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Stops it (immediately) and removes its folder. */
  destroy(): Promise<void>;
}

/** A port nothing listens on now (the kernel's pick; PostgreSQL binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs a PostgreSQL program as the "postgres" user when we are root (initdb refuses root), else as ourselves. */
function asPostgres(program: string, args: string[]): Promise<unknown> {
  const path = join(bin!, program);
  const [file, argv] = process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", path, ...args]] : [path, args];
  return run(file, argv, { timeout: CONTROL_LIMIT_MS, killSignal: "SIGKILL" }).catch((e: Error & { stderr?: string }) => {
    throw new Error(`${program} ${args.join(" ")} failed: ${e.stderr || e.message}`);
  });
}

/** initdb (trust authentication) in a new temporary folder and starts the cluster on a free loopback port. */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  if (!bin) throw new Error("no PostgreSQL initdb on this machine");
  const dir = tempDir("policy-pg-");
  const data = join(dir, "data");
  if (process.getuid?.() === 0) {
    const { uid, gid } = await postgresUser();
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  await asPostgres("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale", "C"]);
  const port = await freePort();
  // Loopback only, the socket in the cluster's own folder; fsync off: a stop kills processes, not the machine, so the
  // operating system keeps every write PostgreSQL made (commits and crash recovery are exercised all the same).
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const start = () => asPostgres("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "postgres.log"), "-w", "-t", "60", "start"]);
  const stop = (mode: "fast" | "immediate" = "fast") => asPostgres("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "60", "stop"]);
  let running = false;
  let frozen: number[] = [];
  const url = (database = "postgres") => `postgres://postgres@127.0.0.1:${port}/${database}`;
  await start();
  running = true;
  return {
    url,
    async createDatabase() {
      const name = `policy_test_${randomBytes(6).toString("hex")}`;
      const client = new pg.Client({ connectionString: url() });
      client.on("error", () => undefined);
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    async stop(mode) {
      await stop(mode);
      running = false;
    },
    async start() {
      await start();
      running = true;
    },
    async freeze() {
      const postmaster = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
      const { stdout } = await run("pgrep", ["-P", String(postmaster)]);
      frozen = [postmaster, ...stdout.split("\n").filter(Boolean).map(Number)];
      for (const pid of frozen) signal(pid, "SIGSTOP");
    },
    async thaw() {
      for (const pid of frozen.splice(0)) signal(pid, "SIGCONT");
    },
    async destroy() {
      for (const pid of frozen.splice(0)) signal(pid, "SIGCONT");
      if (running) await stop("immediate").catch(() => undefined);
      running = false;
      removeDir(dir);
    },
  };
}

/**
 * A session of the test's own holding the advisory lock `key` (e.g. the store's write lock), so that the code under
 * test waits for it with its connection checked out; end() lets go.
 */
export async function holdAdvisoryLock(url: string, key: bigint): Promise<{ end(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  // The session dies with the cluster when a test stops it.
  client.on("error", () => undefined);
  await client.connect();
  await client.query("SELECT pg_advisory_lock($1)", [key.toString()]);
  return { end: () => client.end().catch(() => undefined) };
}

/** Resolves once at least `count` sessions wait for an advisory lock (pg_locks). */
export async function advisoryLockWaiters(url: string, count = 1): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  try {
    await waitFor(async () => {
      const { rows } = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
      return rows[0]!.n >= count;
    }, `${count} session(s) waiting for an advisory lock`);
  } finally {
    await client.end();
  }
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run("id", ["postgres"]);
  const uid = /uid=(\d+)/.exec(stdout)?.[1];
  const gid = /gid=(\d+)/.exec(stdout)?.[1];
  if (!uid || !gid) throw new Error(`no "postgres" user to run initdb as: ${stdout}`);
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Sends `sig` to a server process that may have exited meanwhile: a backend that had exited (a zombie) when frozen is
 * reaped by the postmaster as soon as the postmaster is thawed, before the loop reaches it — nothing left to signal.
 */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
  }
}
