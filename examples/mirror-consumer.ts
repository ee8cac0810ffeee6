// An example sync consumer, the shape of an enforcement point's agent: it mirrors the effective policies of a
// subtree into a directory of JSON files (one per resource, `{collection}_{id}.json`) and keeps them current,
// acknowledging as it goes, so that the policies it wrote show SUCCESS (or FAILED, with its message) in `policy get`.
//
//   node --import tsx examples/mirror-consumer.ts --server http://127.0.0.1:8080 \
//     --subtree organizations/acme --dir ./mirror [--name consumers/mirror] [--token TOKEN] [--keep]
//
// It registers the consumer `--name` while it runs: every policy of the subtree reads PENDING until the mirror has
// applied it. On exit (Ctrl-C, SIGTERM, or an error) it deletes the consumer again, so nothing waits for a mirror
// that no longer runs; `--keep` leaves it registered, to resume where it stopped. Killed with SIGKILL it cannot:
// `policy sync consumers list` shows it, `policy sync consumers delete --name mirror` removes it. The mirror's
// directory is left in place.
//
// A change to a policy changes the effective policy of the resource and of everything beneath it, and a move
// changes it for the whole moved subtree: the mirror rewrites the file of every mirrored resource whose lineage the
// change touches, and removes the file of a deleted resource.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ChangeKind,
  EffectivePolicySchema,
  createPolicyClient,
  runConsumer,
  type Change,
  type PolicyClient,
} from "../src/client/index.js";

const { values } = parseArgs({
  options: {
    server: { type: "string", default: "http://127.0.0.1:8080" },
    subtree: { type: "string" },
    dir: { type: "string", default: "./mirror" },
    name: { type: "string", default: "consumers/mirror" },
    token: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
if (!values.subtree) throw new Error("--subtree is required, e.g. --subtree organizations/acme");
const subtree = values.subtree;
const dir = values.dir!;
mkdirSync(dir, { recursive: true });

const fileOf = (resource: string) => join(dir, `${resource.replace("/", "_")}.json`);
const client = createPolicyClient({ baseUrl: values.server!, protocol: "connect", token: values.token });

/** Every resource of the subtree (breadth first, by listing children). */
async function subtreeResources(api: PolicyClient, root: string): Promise<string[]> {
  const names = [root];
  for (let i = 0; i < names.length; i++) {
    let pageToken = "";
    do {
      const page = await api.resources.listResources({ parent: names[i]!, pageSize: 1000, pageToken });
      names.push(...page.resources.map((r) => r.name));
      pageToken = page.nextPageToken;
    } while (pageToken);
  }
  return names;
}

async function mirror(resource: string): Promise<void> {
  try {
    const effective = await client.policies.lookupEffectivePolicy({ resource, options: { requestedPolicyVersion: 3 } });
    writeFileSync(fileOf(resource), `${JSON.stringify(toJson(EffectivePolicySchema, effective), null, 2)}\n`);
  } catch (e) {
    // Deleted since the change: its own delete change removes the file.
    if (ConnectError.from(e).code !== Code.NotFound) throw e;
  }
}

async function snapshot(): Promise<void> {
  const names = await subtreeResources(client, subtree);
  const keep = new Set(names.map(fileOf));
  for (const file of readdirSync(dir)) if (!keep.has(join(dir, file))) rmSync(join(dir, file));
  for (const name of names) await mirror(name);
  console.log(`snapshot: ${names.length} resources mirrored`);
}

async function apply(change: Change): Promise<void> {
  if (change.kind === ChangeKind.RESOURCE_DELETED) {
    rmSync(fileOf(change.resource), { force: true });
  } else if (change.kind === ChangeKind.RESOURCE_UPDATED) {
    return; // a display name: the effective policy did not change
  } else {
    // A policy change or a move changes the effective policy of the resource and of its whole subtree.
    for (const name of await subtreeResources(client, change.resource)) await mirror(name);
  }
  console.log(`${change.sequence} ${ChangeKind[change.kind]} ${change.resource}`);
}

const abort = new AbortController();
process.once("SIGINT", () => abort.abort());
process.once("SIGTERM", () => abort.abort());
const name = values.name!;
try {
  await runConsumer(client, {
    name,
    subtree,
    displayName: `mirror of ${subtree} into ${dir}`,
    apply,
    snapshot,
    signal: abort.signal,
    onAcknowledge: (c) => console.log(`acknowledged ${c.acknowledgedSequence} (lag ${c.lagSequences}, failures ${c.failureCount})`),
  });
} finally {
  if (values.keep) {
    console.log(`kept ${name}: the policies of ${subtree} read PENDING until it runs again ` +
      `(policy sync consumers delete --name ${name} removes it)`);
  } else {
    await client.sync.deleteConsumer({ name }).catch((e) => {
      if (ConnectError.from(e).code !== Code.NotFound) throw e;
    });
    console.log(`deleted ${name}: nothing waits for this mirror any more (--keep keeps it registered)`);
  }
  client.close();
}
