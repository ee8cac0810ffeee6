// The services the server exposes, registered on a Connect router.
import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { AccessService } from "../../gen/policy/v1/access_service_pb.js";
import { PolicyService } from "../../gen/policy/v1/policy_service_pb.js";
import { ResourceService } from "../../gen/policy/v1/resource_service_pb.js";
import type { Access } from "../domain/access/access.js";
import type { Policies } from "../domain/policies.js";
import type { Resources } from "../domain/resources.js";
import { accessService } from "./access-service.js";
import { policyService } from "./policy-service.js";
import { resourceService } from "./resource-service.js";

export interface Services {
  policies: Policies;
  resources: Resources;
  access: Access;
}

/** What both transports offer for registering a service: a ConnectRouter, and the grpc-js adapter. */
export interface ServiceRegistry {
  service<T extends DescService>(service: T, implementation: ServiceImpl<T>): unknown;
}

export function routes(services: Services): (router: ServiceRegistry) => void {
  return (router) => {
    router.service(PolicyService, policyService(services.policies));
    router.service(ResourceService, resourceService(services.resources));
    router.service(AccessService, accessService(services.access));
  };
}
