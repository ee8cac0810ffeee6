// The services of the policy.v1 API, named once: each one's descriptor under the name its client and its handler go
// by. The server registers and exposes (health, reflection) these, the authorization rules are checked against them,
// and the SDK, the CLI and the console make their clients from them; a new service is added here and nowhere else
// in that list.
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { AccessService } from "../gen/policy/v1/access_service_pb.js";
import { AuditService } from "../gen/policy/v1/audit_service_pb.js";
import { DenyPolicyService } from "../gen/policy/v1/deny_policy_service_pb.js";
import { PolicyService } from "../gen/policy/v1/policy_service_pb.js";
import { ResourceService } from "../gen/policy/v1/resource_service_pb.js";
import { RoleService } from "../gen/policy/v1/role_service_pb.js";
import { SharedPolicyService } from "../gen/policy/v1/shared_policy_service_pb.js";
import { SnapshotService } from "../gen/policy/v1/snapshot_service_pb.js";
import { SyncService } from "../gen/policy/v1/sync_service_pb.js";
import { WatchService } from "../gen/policy/v1/watch_service_pb.js";

export const API = {
  policies: PolicyService,
  resources: ResourceService,
  access: AccessService,
  audit: AuditService,
  watch: WatchService,
  snapshots: SnapshotService,
  sync: SyncService,
  denyPolicies: DenyPolicyService,
  roles: RoleService,
  sharedPolicies: SharedPolicyService,
} as const;

export type Api = typeof API;
export type ApiName = keyof Api;

/** Every service of the API, in the order above. */
export const API_SERVICES: readonly Api[ApiName][] = Object.values(API);

/** A client of every service, by the service's name in API. */
export type ApiClients = { [K in ApiName]: Client<Api[K]> };

/** Clients of every service over one transport (connect-node's or connect-web's). */
export function apiClients(transport: Transport): ApiClients {
  return Object.fromEntries(Object.entries(API).map(([name, service]) => [name, createClient(service, transport)])) as ApiClients;
}
