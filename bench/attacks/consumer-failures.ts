// An organization owner fills its organization with sync consumers at their bounds (100 consumers, 1,000 failures
// each: 100,000) and then works them as hard as it can: re-reports every consumer's 1,000 failures in turn, deletes a
// full consumer and registers it again, lists them, and tries past the bounds (a 101st consumer, a failure of
// another organization's project). None of it may slow another organization's reads (docs/watch.md#bounds).
import type { PolicyClient } from "../../src/client/index.js";
import type { Attack } from "./attack.js";

const CONSUMERS = 100;
const FAILURES = 1_000;
const CLOUD = "clouds/failing";
const projects = Array.from({ length: FAILURES }, (_, i) => `projects/failing-${i}`);
const consumer = (i: number) => `consumers/failing-${i}`;

/** The newest change-log sequence, as a consumer's progress tells it. */
async function latestSequence(client: PolicyClient): Promise<bigint> {
  const { acknowledgedSequence, lagSequences } = await client.sync.getConsumer({ name: consumer(0) });
  return acknowledgedSequence + lagSequences;
}

/** Acknowledges up to `sequence` with a failure for every project (`round` makes each message new). */
function fill(client: PolicyClient, name: string, sequence: bigint, round: number) {
  const failures = projects.map((resource) => ({ resource, sequence, message: `round ${round}: the downstream refused it` }));
  return client.sync.acknowledgeChanges({ consumer: name, sequence, failures });
}

async function inBatches<T>(items: readonly T[], width: number, work: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(work));
}

export const attack: Attack = {
  name: "consumer failures",
  description:
    `an organization owner keeps ${CONSUMERS} consumers × ${FAILURES} failures, re-reports them in a loop, deletes and ` +
    `re-registers full consumers, lists them, and tries past the bounds`,
  async prepare(ctx) {
    const owner = ctx.attackerOrgOwner.grpc;
    await owner.resources.createResource({ resource: { name: CLOUD, parent: ctx.attackerOrgOwner.organization } });
    await inBatches(projects, 50, (name) => owner.resources.createResource({ resource: { name, parent: CLOUD } }));
    const names = Array.from({ length: CONSUMERS }, (_, i) => consumer(i));
    await inBatches(names, 20, (name) => owner.sync.createConsumer({ consumer: { name, subtree: CLOUD } }));
    const sequence = await latestSequence(owner);
    await inBatches(names, 4, (name) => fill(owner, name, sequence, 0));
  },
  async run(ctx, signal) {
    const owner = ctx.attackerOrgOwner.grpc;
    const sequence = await latestSequence(owner);
    let round = 1;
    const loop = async (work: () => Promise<unknown>) => {
      while (!signal.aborted) await work().catch(() => {});
    };
    let next = 1;
    await Promise.all([
      // Re-reporting every failure of one consumer after another, two at a time.
      loop(() => fill(owner, consumer(next++ % CONSUMERS), sequence, round++)),
      loop(() => fill(owner, consumer(next++ % CONSUMERS), sequence, round++)),
      // A full consumer deleted and registered again, then filled.
      loop(async () => {
        await owner.sync.deleteConsumer({ name: consumer(0) });
        await owner.sync.createConsumer({ consumer: { name: consumer(0), subtree: CLOUD } });
        await fill(owner, consumer(0), sequence, round++);
      }),
      // Reads, and calls past the bounds (refused).
      loop(async () => {
        await owner.sync.listConsumers({});
        await owner.sync.getSyncStatus({ resource: projects[Math.floor(ctx.random() * FAILURES)]! });
        await owner.sync.createConsumer({ consumer: { name: "consumers/one-too-many", subtree: CLOUD } }).catch(() => {});
        await owner.sync
          .acknowledgeChanges({
            consumer: consumer(1),
            sequence,
            // Another organization's project (the runner's victim), and a name nothing has.
            failures: [
              { resource: "projects/victim-prj", sequence, message: "x" },
              { resource: "projects/never-was", sequence, message: "x" },
            ],
          })
          .catch(() => {});
      }),
    ]);
  },
};
