// The handlers of the policy.v1 API's services (api-services.ts names them), registered on a router (Connect) or on
// the grpc-js adapter.
import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { API, type Api, type ApiName } from "../api-services.js";
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
 * Options of one service's handlers (the main port's; the grpc-js adapter takes none). Watch's responses go out
 * uncompressed on the main port, as on the gRPC port: one message goes to many streams, and connect-node gzipped it
 * once per stream (about a tenth of the server's CPU with 100 watchers, more than sending it). Compressed requests
 * are still accepted; each message says it is not compressed, which every protocol allows.
 */
const OPTIONS: { [K in ApiName]?: { compressMinBytes?: number } } = { watch: { compressMinBytes: Number.MAX_SAFE_INTEGER } };

/** A handler for every service of the API (api-services.ts): the compiler refuses a service without one. */
type Implementations = { [K in ApiName]: ServiceImpl<Api[K]> };

export function routes(services: Services): (router: ServiceRegistry) => void {
  const implementations: Implementations = {
    policies: policyService(services.policies, services.authorizer),
    resources: resourceService(services.resources, services.importer, services.authorizer),
    access: accessService(services.access, services.lookups, services.authorizer),
    audit: auditService(services.audit, services.authorizer),
    watch: watchService(services.watch),
    snapshots: snapshotService(services.snapshots),
    sync: syncService(services.sync),
    denyPolicies: denyPolicyService(services.denyPolicies),
    roles: roleService(services.roles, services.authorizer),
    sharedPolicies: sharedPolicyService(services.sharedPolicies),
  };
  return (router) => {
    for (const name of Object.keys(API) as ApiName[]) register(router, API[name], implementations[name], OPTIONS[name]);
  };
}

/** One service; a service's descriptor and its handler's type agree, which a loop over the names cannot tell the compiler. */
function register<T extends DescService>(
  router: ServiceRegistry,
  service: T,
  implementation: ServiceImpl<T>,
  options: { compressMinBytes?: number } | undefined,
): void {
  if (options) router.service(service, implementation, options);
  else router.service(service, implementation);
}
