// A call resolves its resource's chain once: the authorizer, the handler and read auditing share it (counted as
// Store.ancestry calls on the store the domain sees, the read cache, on both ports, for a caller whose permission is
// checked and in development mode).
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { join } from "node:path";
import { AuditLogConfig_LogType as LogType } from "../../gen/policy/v1/policy_pb.js";
import { Freshness } from "../../src/store/cache/freshness.js";
import {
  ADMIN,
  AUDIENCE,
  ISSUER,
  apiClients,
  binding,
  signingKey,
  startSecureServer,
  tempDir,
  tokenFor,
  uniqueId,
  writeJwks,
  type ApiClients,
  type Protocol,
  type SecureServer,
} from "../helpers/secure-server.js";

const OWNER = "olivia@example.com";

interface Setup {
  server: SecureServer;
  as: (protocol: Protocol) => Promise<ApiClients>;
  project: string;
}

async function setUp(authenticated: boolean): Promise<Setup> {
  const dir = tempDir();
  const key = await signingKey("ES256");
  const server = await startSecureServer(
    authenticated
      ? { jwks: await writeJwks(join(dir, "jwks.json"), [key]), jwtIssuer: ISSUER, jwtAudience: AUDIENCE, admins: [ADMIN] }
      : {},
    dir,
  );
  const as = async (email: string, protocol: Protocol) =>
    apiClients(server.url, { token: authenticated ? await tokenFor(key, email) : undefined, protocol });
  const admin = await as("root@example.com", "connect");
  const org = `organizations/${uniqueId("acme")}`;
  const cloud = `clouds/${uniqueId("cld")}`;
  const project = `projects/${uniqueId("prj")}`;
  await admin.resources.createResource({ resource: { name: org } });
  await admin.resources.createResource({ resource: { name: cloud, parent: org } });
  await admin.resources.createResource({ resource: { name: project, parent: cloud } });
  await admin.policies.setPolicy({
    resource: org,
    policy: {
      bindings: [binding("roles/owner", `user:${OWNER}`), binding("roles/checker", `user:${OWNER}`)],
      // Read auditing on: it looks at the chain of every read.
      auditConfigs: [{ service: "allServices", auditLogConfigs: [{ logType: LogType.ADMIN_READ }, { logType: LogType.DATA_READ }] }],
    },
    updateMask: { paths: ["bindings", "audit_configs"] },
  });
  return { server, as: (protocol) => as(OWNER, protocol), project };
}

async function ancestryReads(call: () => Promise<unknown>): Promise<number> {
  const spy = vi.spyOn(Freshness.prototype, "ancestry");
  try {
    await call();
    return spy.mock.calls.length;
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

for (const authenticated of [true, false]) {
  describe(authenticated ? "an authorized caller" : "development mode", () => {
    let setup: Setup;
    beforeAll(async () => {
      setup = await setUp(authenticated);
    });
    afterAll(async () => {
      await setup?.server.stop();
    });

    for (const protocol of ["connect", "grpc"] as const) {
      test(`one chain read per call (${protocol})`, async () => {
        const api = await setup.as(protocol);
        const resource = setup.project;
        const counts = {
          GetPolicy: await ancestryReads(() => api.policies.getPolicy({ resource })),
          LookupEffectivePolicy: await ancestryReads(() => api.policies.lookupEffectivePolicy({ resource })),
          CheckAccess: await ancestryReads(() =>
            api.access.checkAccess({ resource, principals: [`user:${OWNER}`], permissions: ["projects.get"] }),
          ),
          TestIamPermissions: await ancestryReads(() =>
            api.policies.testIamPermissions({ resource, permissions: ["projects.get"] }),
          ),
        };
        expect(counts).toEqual({ GetPolicy: 1, LookupEffectivePolicy: 1, CheckAccess: 1, TestIamPermissions: 1 });
      });
    }
  });
}
