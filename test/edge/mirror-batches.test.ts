// The mirror reads both shapes of the Watch stream: single Change messages (servers before batching) and ChangeBatch
// messages (one per delivery turn), and moves to a batch's last_sequence even past its last change. Served here by an
// in-memory router standing in for the server's Snapshot and Watch.
import { create } from "@bufbuild/protobuf";
import { createRouterTransport } from "@connectrpc/connect";
import { expect, test } from "vitest";
import { AccessState } from "../../gen/policy/v1/access_service_pb.js";
import { PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { SnapshotService } from "../../gen/policy/v1/snapshot_service_pb.js";
import { ChangeKind, ChangeSchema, WatchService, type WatchRequest, type WatchResponse } from "../../gen/policy/v1/watch_service_pb.js";
import { createPolicyClient, createPolicyMirror } from "../../src/client/index.js";

const ORG = "organizations/b";
const grant = (member: string) => create(PolicySchema, { version: 1, bindings: [{ role: "roles/owner", members: [member] }] });
const change = (sequence: bigint, kind: ChangeKind, resource: string, extra: Record<string, unknown> = {}) =>
  create(ChangeSchema, { sequence, kind, resource, resourceType: resource.split("/")[0] === "projects" ? "project" : "organization", ...extra });

function serverSending(messages: (request: WatchRequest) => WatchResponse[]) {
  const requests: WatchRequest[] = [];
  const transport = createRouterTransport((router) => {
    router.service(SnapshotService, {
      async *snapshot() {
        yield { sequence: 9n, last: true, resources: [{ resource: { name: ORG, type: "organization" }, policy: grant("user:ada@example.com") }] };
      },
    });
    router.service(WatchService, {
      async *watch(request, context) {
        requests.push(request);
        yield* messages(request);
        await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
      },
    });
  });
  return { client: createPolicyClient({ baseUrl: "http://in-memory", transport }), requests };
}

const check = (principal: string, resource = ORG) => ({ resource, principals: [principal], permissions: [`${resource.split("/")[0]}.delete`] });

test.each([
  [
    "batches",
    (): WatchResponse[] => [
      {
        $typeName: "policy.v1.WatchResponse",
        event: {
          case: "batch",
          value: {
            $typeName: "policy.v1.ChangeBatch",
            changes: [
              change(10n, ChangeKind.POLICY_SET, ORG, { policy: grant("user:bob@example.com") }),
              change(11n, ChangeKind.RESOURCE_CREATED, "projects/b1", { parent: ORG }),
            ],
            lastSequence: 12n,
          },
        },
      },
    ],
  ],
  [
    "single changes",
    (): WatchResponse[] => [
      { $typeName: "policy.v1.WatchResponse", event: { case: "change", value: change(10n, ChangeKind.POLICY_SET, ORG, { policy: grant("user:bob@example.com") }) } },
      { $typeName: "policy.v1.WatchResponse", event: { case: "change", value: change(11n, ChangeKind.RESOURCE_CREATED, "projects/b1", { parent: ORG }) } },
      { $typeName: "policy.v1.WatchResponse", event: { case: "progress", value: { $typeName: "policy.v1.Progress", sequence: 12n } } },
    ],
  ],
])("the mirror follows %s", async (_, messages) => {
  const { client, requests } = serverSending(messages);
  const mirror = createPolicyMirror({ client, scope: ORG });
  try {
    await mirror.ready;
    expect(await mirror.waitFor(12n, 5000)).toBe(true);
    expect(requests[0]).toMatchObject({ afterSequence: 9n, subtree: ORG, batch: true });
    expect((await mirror.checkAccess(check("user:bob@example.com"))).results[0]!.state).toBe(AccessState.GRANTED);
    expect((await mirror.checkAccess(check("user:ada@example.com"))).results[0]!.state).toBe(AccessState.NOT_GRANTED);
    expect((await mirror.checkAccess(check("user:bob@example.com", "projects/b1"))).results[0]!.state).toBe(AccessState.GRANTED);
    expect(mirror.metrics().answeredByRpc).toBe(0);
  } finally {
    await mirror.close();
  }
});
