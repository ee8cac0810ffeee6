// `npm run bench:consumers [-- --scenarios=...] [--no-doc]`: what sync consumers in one organization cost another
// (issue 25). The built server in a child process (default flags, development mode, SQLite), clients on the gRPC port.
// A victim organization (200 projects with a policy) is read while other organizations register consumers and
// failures, up to the bounds (docs/operations.md#limits):
//  - none: no consumer anywhere;
//  - one-max: one consumer of the attacker's organization with 1,000 failures (the most one keeps);
//  - org-max: the attacker's organization at its bounds, 100 consumers × 1,000 failures (100,000);
//  - org-max-acking: the same while the attacker acknowledges in a loop (each of its 100 consumers in turn,
//    re-reporting its 1,000 failures; a child process);
//  - 3000-consumers: 2,900 more consumers in 29 more organizations (100 each, without failures), after the others.
// For each: the victim's GetPolicy (one project) and ListPolicies (200 per page) p50/p99, sequential calls, and the
// server's RSS. Then the time to delete a consumer that keeps 1,000 failures. Prints Markdown; writes the
// "Consumers (issue 25)" section of docs/benchmarks.md unless --no-doc.
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PolicyService } from "../gen/policy/v1/policy_service_pb.js";
import { ResourceService } from "../gen/policy/v1/resource_service_pb.js";
import { SyncService } from "../gen/policy/v1/sync_service_pb.js";
import { cpuSecondsOfTree, rssMbOfTree, startBuiltServer } from "./built-server.js";
import { writeDocSection } from "./doc-section.js";

const VICTIM = "organizations/victim";
const ATTACKER = "organizations/attacker";
const ATTACK_CLOUD = "clouds/attack";
const CONSUMERS_PER_ORG = 100;
const FAILURES_PER_CONSUMER = 1000;
const VICTIM_PROJECTS = 200;
const GETS = 1000;
const LISTS = 100;
const SCENARIOS = ["none", "one-max", "org-max", "org-max-acking", "3000-consumers"] as const;

interface Clients {
  resources: Client<typeof ResourceService>;
  policies: Client<typeof PolicyService>;
  sync: Client<typeof SyncService>;
}

function clientsOf(url: string): Clients {
  const transport = createGrpcTransport({ baseUrl: url });
  return {
    resources: createClient(ResourceService, transport),
    policies: createClient(PolicyService, transport),
    sync: createClient(SyncService, transport),
  };
}

/** Runs `work` on every item, `width` at a time. */
async function inBatches<T>(items: readonly T[], width: number, work: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(work));
}

const attackProjects = Array.from({ length: FAILURES_PER_CONSUMER }, (_, i) => `projects/attack-${i}`);
const attackConsumer = (i: number) => `consumers/attack-${i}`;
const failuresAt = (sequence: bigint) => attackProjects.map((resource) => ({ resource, sequence, message: "could not apply this policy" }));

/** The newest change-log sequence, as a consumer's progress tells it. */
async function latestSequence(c: Clients, consumer: string): Promise<bigint> {
  const { acknowledgedSequence, lagSequences } = await c.sync.getConsumer({ name: consumer });
  return acknowledgedSequence + lagSequences;
}

/**
 * The attacker's loop (a child process, so that its client does not share the measuring one's event loop):
 * acknowledges its consumers in turn, each with all its failures, until told to stop; then sends how many it made.
 */
async function attack(url: string, consumers: number): Promise<void> {
  const c = clientsOf(url);
  let stop = false;
  process.once("message", () => (stop = true));
  const latest = await latestSequence(c, attackConsumer(0));
  let acks = 0;
  for (let i = 0; !stop; i = (i + 1) % consumers, acks++) {
    await c.sync.acknowledgeChanges({ consumer: attackConsumer(i), sequence: latest, failures: failuresAt(latest) });
  }
  process.send!(acks);
  process.disconnect();
}

const attacking = process.argv.indexOf("--attack");
if (attacking >= 0) await attack(process.argv[attacking + 1]!, Number(process.argv[attacking + 2]));
else await main();

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { scenarios: { type: "string", default: SCENARIOS.join(",") }, "no-doc": { type: "boolean", default: false } },
    strict: true,
  });
  const wanted = new Set(values.scenarios.split(","));
  const dir = mkdtempSync(join(tmpdir(), "policy-bench-consumers-"));
  const server = await startBuiltServer(["--port", "0", "--grpc-port", "0", "--db", join(dir, "policy.db")]);
  const pid = server.process.pid!;
  const c = clientsOf(server.grpc);
  const rows: string[] = [];
  try {
    await c.resources.createResource({ resource: { name: VICTIM } });
    const victims = Array.from({ length: VICTIM_PROJECTS }, (_, i) => `projects/victim-${i}`);
    await inBatches(victims, 50, async (name) => {
      await c.resources.createResource({ resource: { name, parent: VICTIM } });
      await c.policies.setPolicy({ resource: name, policy: { bindings: [{ role: "roles/readonly", members: ["user:reader@example.com"] }] } });
    });
    await c.resources.createResource({ resource: { name: ATTACKER } });
    await c.resources.createResource({ resource: { name: ATTACK_CLOUD, parent: ATTACKER } });
    await inBatches(attackProjects, 50, (name) => c.resources.createResource({ resource: { name, parent: ATTACK_CLOUD } }));

    const measure = async (label: string) => {
      const get: number[] = [];
      const list: number[] = [];
      for (let i = 0; i < GETS; i++) {
        const started = performance.now();
        await c.policies.getPolicy({ resource: victims[i % victims.length]! });
        get.push(performance.now() - started);
      }
      for (let i = 0; i < LISTS; i++) {
        const started = performance.now();
        const page = await c.policies.listPolicies({ resourceType: "project", parent: VICTIM, pageSize: 200 });
        list.push(performance.now() - started);
        if (page.resourcePolicies.length !== 200) throw new Error(`listed ${page.resourcePolicies.length}`);
      }
      const row = `| ${label} | ${ms(pct(get, 50))} | ${ms(pct(get, 99))} | ${ms(pct(list, 50))} | ${ms(pct(list, 99))} | ${Math.round(rssMbOfTree(pid))} MB |`;
      rows.push(row);
      console.log(row);
    };

    console.log("| other organizations' consumers | GetPolicy p50 | p99 | ListPolicies(200) p50 | p99 | server RSS |");
    if (wanted.has("none")) await measure("none");

    // The attacker's consumers, filled one at a time (one-max after the first).
    let filled = 0;
    const fill = async (upTo: number) => {
      for (; filled < upTo; filled++) {
        await c.sync.createConsumer({ consumer: { name: attackConsumer(filled), subtree: ATTACK_CLOUD } });
        const latest = await latestSequence(c, attackConsumer(filled));
        await c.sync.acknowledgeChanges({ consumer: attackConsumer(filled), sequence: latest, failures: failuresAt(latest) });
      }
    };
    await fill(1);
    if (wanted.has("one-max")) await measure("1 consumer × 1,000 failures");
    const rest = [...wanted].some((s) => s.startsWith("org-max"));
    if (rest) await fill(CONSUMERS_PER_ORG);
    if (wanted.has("org-max")) await measure("100 consumers × 1,000 failures (one organization at its bounds)");
    if (rest) {
      // At the bound, one more consumer is refused.
      const refused = await c.sync
        .createConsumer({ consumer: { name: "consumers/attack-extra", subtree: ATTACK_CLOUD } })
        .then(() => "accepted", (e: Error) => e.message);
      console.log(`the ${CONSUMERS_PER_ORG + 1}st consumer of the organization: ${refused}`);
    }
    if (wanted.has("org-max-acking")) {
      const attacker = fork(fileURLToPath(import.meta.url), ["--attack", server.grpc, String(CONSUMERS_PER_ORG)]);
      const acks = new Promise<number>((resolve) => attacker.once("message", (n) => resolve(n as number)));
      const started = performance.now();
      const cpuBefore = cpuSecondsOfTree(pid);
      await measure("the same, while it acknowledges 1,000 failures in a loop");
      attacker.send("stop");
      const done = await acks;
      const cpuPerAck = ((cpuSecondsOfTree(pid) - cpuBefore) * 1000) / done;
      const perSecond = done / ((performance.now() - started) / 1000);
      const note = `attacker: ${done} acknowledgements of 1,000 failures, ${perSecond.toFixed(0)}/s; server CPU ${cpuPerAck.toFixed(1)} ms each (victim's calls included)`;
      console.log(`(${note})`);
      rows.push(`| (${note}) | | | | | |`);
    }
    if (wanted.has("3000-consumers")) {
      const orgs = Array.from({ length: 29 }, (_, i) => `organizations/tenant-${i}`);
      await inBatches(orgs, 10, (name) => c.resources.createResource({ resource: { name } }));
      const consumers = orgs.flatMap((org, o) => Array.from({ length: CONSUMERS_PER_ORG }, (_, i) => ({ name: `consumers/t${o}-${i}`, subtree: org })));
      await inBatches(consumers, 50, (consumer) => c.sync.createConsumer({ consumer }));
      const total = consumers.length + filled;
      await measure(`${total.toLocaleString("en-US")} consumers in 30 organizations (${(filled * FAILURES_PER_CONSUMER).toLocaleString("en-US")} failures)`);
    }

    // Deleting consumers that keep 1,000 failures each.
    const deletes: number[] = [];
    for (let i = 0; i < Math.min(filled, 10); i++) {
      const started = performance.now();
      await c.sync.deleteConsumer({ name: attackConsumer(i) });
      deletes.push(performance.now() - started);
    }
    // For scale: a write of the same store (each write waits for its commit's fsync).
    const writes: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      await c.policies.setPolicy({ resource: victims[i]!, policy: { bindings: [{ role: "roles/readonly", members: [`user:w${i}@example.com`] }] } });
      writes.push(performance.now() - started);
    }
    const deleted =
      `Deleting a consumer that keeps 1,000 failures: median ${ms(pct(deletes, 50))} (of ${deletes.length}); ` +
      `a one-member SetPolicy on the same server, for scale: median ${ms(pct(writes, 50))}.`;
    console.log(`\n${deleted}`);

    if (!values["no-doc"]) {
      writeDocSection(
        "Consumers (issue 25)",
        [
          `\`npm run bench:consumers\`: the built server in a child process (default flags, SQLite), clients on the gRPC port; ` +
            `the victim organization's ${VICTIM_PROJECTS} projects each have a policy; sequential calls, ${GETS} GetPolicy ` +
            `and ${LISTS} ListPolicies (200 per page) per row. Machine: 2 cores shared with the clients (and other work).`,
          "",
          "| other organizations' consumers | GetPolicy p50 | p99 | ListPolicies(200) p50 | p99 | server RSS |",
          "| --- | ---: | ---: | ---: | ---: | ---: |",
          ...rows,
          "",
          deleted,
        ].join("\n"),
      );
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function pct(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function ms(x: number): string {
  return `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms`;
}
