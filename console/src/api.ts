// Clients of the API on this origin (Connect protocol, binary), with the bearer token the user entered. The token
// lives in this module only: never in storage, so it is gone when the tab closes.
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AccessService } from "../../gen/policy/v1/access_service_pb.js";
import { AuditService } from "../../gen/policy/v1/audit_service_pb.js";
import { DenyPolicyService } from "../../gen/policy/v1/deny_policy_service_pb.js";
import { PolicyService } from "../../gen/policy/v1/policy_service_pb.js";
import { ResourceService } from "../../gen/policy/v1/resource_service_pb.js";
import { RoleService } from "../../gen/policy/v1/role_service_pb.js";
import { SharedPolicyService } from "../../gen/policy/v1/shared_policy_service_pb.js";
import { SyncService } from "../../gen/policy/v1/sync_service_pb.js";
import { WatchService } from "../../gen/policy/v1/watch_service_pb.js";

let token = "";

export function setToken(value: string): void {
  token = value.trim().replace(/^Bearer\s+/i, "");
}

export function hasToken(): boolean {
  return token !== "";
}

const bearer: Interceptor = (next) => (req) => {
  if (token) req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

// Connect over fetch: unary calls, and server streams (Watch) read from the response body as it arrives.
const transport = createConnectTransport({ baseUrl: location.origin, useBinaryFormat: true, interceptors: [bearer] });

export const api = {
  resources: createClient(ResourceService, transport),
  policies: createClient(PolicyService, transport),
  denyPolicies: createClient(DenyPolicyService, transport),
  access: createClient(AccessService, transport),
  audit: createClient(AuditService, transport),
  roles: createClient(RoleService, transport),
  shared: createClient(SharedPolicyService, transport),
  sync: createClient(SyncService, transport),
  watch: createClient(WatchService, transport),
};

const inFlight = new Map<string, ReturnType<typeof api.resources.getResource>>();

/** GetResource, one request for callers asking for the same resource at the same time (the page and the tree). */
export function getResource(name: string): ReturnType<typeof api.resources.getResource> {
  let pending = inFlight.get(name);
  if (!pending) {
    pending = api.resources.getResource({ name });
    inFlight.set(name, pending);
    const done = () => inFlight.delete(name);
    pending.then(done, done);
  }
  return pending;
}
