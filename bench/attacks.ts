// `npm run bench:attacks [-- --only NAME] [--seconds 20] [--seed N] [--cpu-prof DIR]`: one tenant attacks, another is measured.
// For each attack in bench/attacks/ (see attack.ts): a fresh built server with authentication on, the attacker's and
// the victim's organizations; the victim's GetPolicy p50/p99 (gRPC port, 4 concurrent callers on a thread of their own) is measured first with
// no attack (the baseline, same server, same run), then while the attack runs; the server's RSS is sampled every
// 100 ms throughout. Targets (issue 25): under every attack, victim p99 < 100 ms and peak RSS < 1 GB. Loopback only.
// Prints Markdown and writes it to docs/benchmarks.md ("Attacks (issue 25)").
import { readdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { createPolicyClient } from "../src/client/index.js";
import type { Attack, AttackContext, Tenant } from "./attacks/attack.js";
import { rssMbOfTree, startBuiltServer } from "./built-server.js";
import { writeDocSection } from "./doc-section.js";
import type { VictimJob, VictimResult } from "./victim-worker.js";

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    seconds: { type: "string", default: "20" },
    baseline: { type: "string", default: "5" },
    seed: { type: "string" },
    // A directory: the server runs with node --cpu-prof and writes its profile there (one per attack).
    "cpu-prof": { type: "string" },
  },
});
const ATTACK_MS = Number(values.seconds) * 1000;
const BASELINE_MS = Number(values.baseline) * 1000;
const SEED = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
console.log(`seed: ${SEED} (replay with --seed ${SEED})`);

const ISSUER = "https://issuer.bench.example";
const AUDIENCE = "policy-service";
const ADMIN = "root@bench.example";
const VICTIM_CALLERS = 4;

/** mulberry32: a small seeded generator, so a run can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

async function loadAttacks(): Promise<Attack[]> {
  const dir = new URL("./attacks/", import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts") && f !== "attack.ts").sort();
  const attacks: Attack[] = [];
  for (const file of files) attacks.push(((await import(new URL(file, dir).href)) as { attack: Attack }).attack);
  return attacks.filter((a) => values.only === undefined || a.name === values.only || a.name.includes(values.only));
}

interface Latencies {
  p50: number;
  p99: number;
  calls: number;
  errors: number;
}

/** The victim's GetPolicy loop for `ms`, on a thread of its own (bench/victim-worker.ts): latencies in ms. */
async function measureVictim(victim: Tenant, baseUrl: string, project: string, ms: number): Promise<Latencies> {
  const job: VictimJob = { baseUrl, token: victim.token, project, ms, callers: VICTIM_CALLERS };
  const worker = new Worker(new URL("./victim-worker.mjs", import.meta.url), { workerData: job });
  const { samples, errors } = await new Promise<VictimResult>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  await worker.terminate();
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), calls: samples.length, errors };
}

interface Row {
  attack: Attack;
  baseline: Latencies;
  attacked: Latencies;
  peakRssMb: number;
}

async function runOne(attack: Attack, key: CryptoKey, keyFile: string): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), "policy-attack-"));
  const server = await startBuiltServer([
    "--port=0",
    "--grpc-port=0",
    `--db=${join(dir, "policy.db")}`,
    `--jwt-public-keys=${keyFile}`,
    `--jwt-issuer=${ISSUER}`,
    `--jwt-audience=${AUDIENCE}`,
    `--admins=user:${ADMIN}`,
    "--log-level=warn",
    ...(attack.serverArgs ?? []),
  ], values["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${values["cpu-prof"]}`] : []);
  const clients: Tenant[] = [];
  try {
    const tenant = async (email: string): Promise<Tenant> => {
      const token = await new SignJWT({ email })
        .setProtectedHeader({ alg: "ES256" })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime("2h")
        .sign(key);
      const t: Tenant = {
        email,
        token,
        main: createPolicyClient({ baseUrl: server.main, token }),
        grpc: createPolicyClient({ baseUrl: server.grpc, token }),
      };
      clients.push(t);
      return t;
    };
    const admin = await tenant(ADMIN);
    const create = (name: string, parent = "") => admin.grpc.resources.createResource({ resource: { name, parent } });
    const grant = (resource: string, role: string, email: string) =>
      admin.grpc.policies.setPolicy({ resource, policy: { bindings: [{ role, members: [`user:${email}`] }] } });
    await create("organizations/attacker-org");
    await create("clouds/attacker-cloud", "organizations/attacker-org");
    await create("projects/attacker-prj", "clouds/attacker-cloud");
    await create("organizations/victim-org");
    await create("clouds/victim-cloud", "organizations/victim-org");
    await create("projects/victim-prj", "clouds/victim-cloud");
    const ctx: AttackContext = {
      mainUrl: server.main,
      grpcUrl: server.grpc,
      pid: server.process.pid!,
      admin,
      attacker: { ...(await tenant("mallory@attacker.example")), organization: "organizations/attacker-org", cloud: "clouds/attacker-cloud", project: "projects/attacker-prj" },
      stranger: await tenant("nobody@stranger.example"),
      attackerOrgOwner: { ...(await tenant("owner@attacker.example")), organization: "organizations/attacker-org" },
      tenant,
      random: seeded(SEED),
    };
    const victim = await tenant("olivia@victim.example");
    await grant("organizations/attacker-org", "roles/owner", ctx.attackerOrgOwner.email);
    await grant("projects/attacker-prj", "roles/owner", ctx.attacker.email);
    await grant("organizations/victim-org", "roles/owner", victim.email);
    await victim.grpc.policies.setPolicy({
      resource: "projects/victim-prj",
      policy: { bindings: [{ role: "roles/readonly", members: ["user:ann@victim.example", "group:victim-readers"] }] },
    });
    await attack.prepare?.(ctx);

    let peakRssMb = rssMbOfTree(ctx.pid);
    const sampler = setInterval(() => {
      try {
        peakRssMb = Math.max(peakRssMb, rssMbOfTree(ctx.pid));
      } catch {
        // the server exited: the table shows what was seen before
      }
    }, 100);
    try {
      const baseline = await measureVictim(victim, server.grpc, "projects/victim-prj", BASELINE_MS);
      const stop = new AbortController();
      const running = attack.run(ctx, stop.signal).catch((e: unknown) => console.error(`${attack.name}: ${String(e)}`));
      const attacked = await measureVictim(victim, server.grpc, "projects/victim-prj", ATTACK_MS);
      stop.abort();
      await running;
      return { attack, baseline, attacked, peakRssMb };
    } finally {
      clearInterval(sampler);
    }
  } finally {
    for (const c of clients) {
      c.main.close();
      c.grpc.close();
    }
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const attacks = await loadAttacks();
if (attacks.length === 0) throw new Error(`no attack matches ${values.only}`);
const { privateKey, publicKey } = await generateKeyPair("ES256");
const keyDir = mkdtempSync(join(tmpdir(), "policy-attack-key-"));
const keyFile = join(keyDir, "signer.pub");
writeFileSync(keyFile, await exportSPKI(publicKey));

/** The machine's 1-minute load average when the run started: figures from a loaded machine are not a quiet one's. */
const LOAD_AT_START = loadavg()[0]!.toFixed(1);
const fmt = (ms: number) => (Number.isNaN(ms) ? "—" : ms < 10 ? ms.toFixed(1) : Math.round(ms).toString());
const lines = [
  `Seed ${SEED}; each attack ${ATTACK_MS / 1000} s after a ${BASELINE_MS / 1000} s baseline on the same server; victim: ${VICTIM_CALLERS} concurrent GetPolicy callers on the gRPC port of another organization, on a thread of their own (as another program would be). Load average ${LOAD_AT_START} at the start (2 cores).`,
  "",
  "| attack | what the attacker does | victim p50 / p99 before (ms) | victim p50 / p99 during (ms) | victim calls (errors) | server peak RSS (MB) | p99 < 100 ms, RSS < 1 GB |",
  "| --- | --- | ---: | ---: | ---: | ---: | --- |",
];
try {
  for (const attack of attacks) {
    console.error(`attack: ${attack.name} …`);
    const row = await runOne(attack, privateKey, keyFile);
    const met = row.attacked.p99 < 100 && row.peakRssMb < 1024 && row.attacked.errors === 0;
    lines.push(
      `| ${attack.name} | ${attack.description} | ${fmt(row.baseline.p50)} / ${fmt(row.baseline.p99)} | ${fmt(row.attacked.p50)} / ${fmt(row.attacked.p99)} | ${row.attacked.calls} (${row.attacked.errors}) | ${Math.round(row.peakRssMb)} | ${met ? "yes" : "**no**"} |`,
    );
  }
} finally {
  rmSync(keyDir, { recursive: true, force: true });
}
const body = lines.join("\n");
console.log(body);
if (values.only === undefined) writeDocSection("Attacks (issue 25)", body);
process.exit(0);
