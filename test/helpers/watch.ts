// Helpers of the Watch and sync tests (and of the edge and outage tests that follow a stream): clients of the new
// services, a follower that collects a stream, and the resources most tests start from.
import { create } from "@bufbuild/protobuf";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { BindingSchema, PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { SyncService } from "../../gen/policy/v1/sync_service_pb.js";
import { WatchService, type Change, type WatchRequest, type WatchResponse } from "../../gen/policy/v1/watch_service_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { WatchRequestSchema } from "../../gen/policy/v1/watch_service_pb.js";
import type { ApiClients } from "./clients.js";
import { waitFor } from "./wait.js";

export const ORG = "organizations/acme";
export const CLOUD = "clouds/c1";
export const PROJECT = "projects/p1";

export function watchClients(transport: Transport) {
  return { watch: createClient(WatchService, transport), sync: createClient(SyncService, transport) };
}

export type WatchClient = Client<typeof WatchService>;

export async function makeTree(clients: ApiClients): Promise<void> {
  await clients.resources.createResource({ resource: { name: ORG } });
  await clients.resources.createResource({ resource: { name: CLOUD, parent: ORG } });
  await clients.resources.createResource({ resource: { name: PROJECT, parent: CLOUD } });
}

export function grantPolicy(...members: string[]) {
  return create(PolicySchema, { bindings: [create(BindingSchema, { role: "roles/collaborator", members })] });
}

/** A running Watch call whose messages are collected as they arrive. */
export interface Follower {
  messages: WatchResponse[];
  /** The changes received, one by one (a batch's in order). */
  changes(): Change[];
  /** The sequences of the changes received. */
  sequences(): number[];
  /** Resolves when `predicate` holds for what was received (polls). */
  until(predicate: (f: Follower) => boolean, limitMs?: number): Promise<void>;
  stop(): Promise<void>;
  /** The error the stream ended with, if any. */
  error(): unknown;
  ended: Promise<void>;
}

export function follow(client: WatchClient, request: MessageInitShape<typeof WatchRequestSchema> = {}): Follower {
  const abort = new AbortController();
  const messages: WatchResponse[] = [];
  let failure: unknown;
  const ended = (async () => {
    try {
      for await (const m of client.watch(request as WatchRequest, { signal: abort.signal })) messages.push(m);
    } catch (e) {
      if (!abort.signal.aborted) failure = e;
    }
  })();
  const f: Follower = {
    messages,
    changes: () =>
      messages.flatMap((m) => (m.event.case === "change" ? [m.event.value] : m.event.case === "batch" ? m.event.value.changes : [])),
    sequences: () => f.changes().map((c) => Number(c.sequence)),
    async until(predicate, limitMs) {
      await waitFor(() => {
        if (failure) throw failure;
        return predicate(f) || undefined;
      }, `the Watch stream's expected messages (received changes ${JSON.stringify(f.sequences())})`, { limitMs });
    },
    async stop() {
      abort.abort();
      await ended;
    },
    error: () => failure,
    ended,
  };
  return f;
}

/** The names of the tree the Watch visibility tests start from (seenAndHiddenTree makes it). */
export function treeNames(prefix: string) {
  return {
    org: `organizations/${prefix}`,
    seenCloud: `clouds/${prefix}_seen`,
    hiddenCloud: `clouds/${prefix}_hidden`,
    seenProject: `projects/${prefix}_seen`,
    hiddenProject: `projects/${prefix}_hidden`,
  };
}

/** The organization with a seen and a hidden cloud, a project in each; ada owns the seen project and nothing else. */
export async function seenAndHiddenTree(admin: ApiClients, tree: ReturnType<typeof treeNames>): Promise<void> {
  await admin.resources.createResource({ resource: { name: tree.org } });
  for (const [cloud, project] of [[tree.seenCloud, tree.seenProject], [tree.hiddenCloud, tree.hiddenProject]] as const) {
    await admin.resources.createResource({ resource: { name: cloud, parent: tree.org } });
    await admin.resources.createResource({ resource: { name: project, parent: cloud } });
  }
  await admin.policies.setPolicy({
    resource: tree.seenProject,
    policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] },
  });
}
