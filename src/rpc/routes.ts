// The services of the policy.v1 API, registered on a router (Connect) or on the grpc-js adapter.
import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { AccessService } from "../../gen/policy/v1/access_service_pb.js";
import { AuditService } from "../../gen/policy/v1/audit_service_pb.js";
import { DenyPolicyService } from "../../gen/policy/v1/deny_policy_service_pb.js";
import { RoleService } from "../../gen/policy/v1/role_service_pb.js";
import { SharedPolicyService } from "../../gen/policy/v1/shared_policy_service_pb.js";
import { PolicyService } from "../../gen/policy/v1/policy_service_pb.js";
import { ResourceService } from "../../gen/policy/v1/resource_service_pb.js";
import { SyncService } from "../../gen/policy/v1/sync_service_pb.js";
import { WatchService } from "../../gen/policy/v1/watch_service_pb.js";
import { SnapshotService } from "../../gen/policy/v1/snapshot_service_pb.js";
import type { Access } from "../domain/access/access.js";
import type { Authorizer } from "../domain/access/authorizer.js";
import type { Lookups } from "../domain/access/lookups.js";
import type { Audit } from "../domain/audit.js";
import type { DenyPolicies } from "../domain/deny-policies.js";
import type { Roles } from "../domain/roles.js";
import type { SharedPolicies } from "../domain/shared-policies.js";
import type { Policies } from "../domain/policies.js";
import type { Resources } from "../domain/resources.js";
import type { Importer } from "../domain/import.js";
import type { Sync } from "../domain/sync.js";
import type { Watch } from "../domain/watch.js";
import type { Snapshots } from "../domain/snapshot.js";
import { accessService } from "./access-service.js";
import { auditService } from "./audit-service.js";
import { denyPolicyService } from "./deny-policy-service.js";
import { roleService } from "./role-service.js";
import { sharedPolicyService } from "./shared-policy-service.js";
import { policyService } from "./policy-service.js";
import { resourceService } from "./resource-service.js";
import { syncService } from "./sync-service.js";
import { watchService } from "./watch-service.js";
import { snapshotService } from "./snapshot-service.js";

export interface Services {
  policies: Policies;
  resources: Resources;
  importer: Importer;
  access: Access;
  lookups: Lookups;
  audit: Audit;
  authorizer: Authorizer;
  watch: Watch;
  snapshots: Snapshots;
  sync: Sync;
  denyPolicies: DenyPolicies;
  roles: Roles;
  sharedPolicies: SharedPolicies;
}

/** What both transports offer for registering a service: a ConnectRouter, and the grpc-js adapter (no options). */
export interface ServiceRegistry {
  service<T extends DescService>(service: T, implementation: ServiceImpl<T>, options?: { compressMinBytes?: number }): unknown;
}

/**
 * Watch's responses go out uncompressed on the main port, as on the gRPC port: one message goes to many streams, and
 * connect-node gzipped it once per stream (about a tenth of the server's CPU with 100 watchers, more than sending it).
 * Compressed requests are still accepted; each message says it is not compressed, which every protocol allows.
 */
const UNCOMPRESSED_RESPONSES = { compressMinBytes: Number.MAX_SAFE_INTEGER };

export const API_SERVICES: readonly DescService[] = [
  PolicyService,
  ResourceService,
  AccessService,
  AuditService,
  WatchService,
  SnapshotService,
  SyncService,
  DenyPolicyService,
  RoleService,
  SharedPolicyService,
];

export function routes(services: Services): (router: ServiceRegistry) => void {
  return (router) => {
    router.service(PolicyService, policyService(services.policies, services.authorizer));
    router.service(ResourceService, resourceService(services.resources, services.importer, services.authorizer));
    router.service(AccessService, accessService(services.access, services.lookups, services.authorizer));
    router.service(AuditService, auditService(services.audit, services.authorizer));
    router.service(WatchService, watchService(services.watch), UNCOMPRESSED_RESPONSES);
    router.service(SnapshotService, snapshotService(services.snapshots));
    router.service(SyncService, syncService(services.sync));
    router.service(DenyPolicyService, denyPolicyService(services.denyPolicies));
    router.service(RoleService, roleService(services.roles, services.authorizer));
    router.service(SharedPolicyService, sharedPolicyService(services.sharedPolicies));
  };
}
