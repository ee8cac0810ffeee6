"""PolicyClient: Anyscale's ``set`` / ``get`` / ``list`` on top of the policy service's gRPC API, IAM's
``get_iam_policy`` / ``set_iam_policy`` / ``test_iam_permissions``, an etag-aware read-modify-write with retry, and
every other RPC through one attribute per service (``client.resources.create_resource(...)``)."""
from __future__ import annotations

import os
import random
import re
import sys
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import grpc

try:  # OpenTelemetry is optional: with it installed and set up, every call carries the caller's trace context.
    from opentelemetry import propagate as _otel_propagate
except ImportError:  # pragma: no cover - depends on the environment
    _otel_propagate = None

# The generated modules import each other as `policy.v1...` and `google.rpc...`: their folder goes on the path.
_GEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_gen")
if not os.path.isdir(os.path.join(_GEN, "policy")):
    raise ImportError(f"{_GEN} is missing: run clients/python/generate.sh (protoc) first")
if _GEN not in sys.path:
    sys.path.insert(0, _GEN)

from policy.v1 import (  # noqa: E402
    access_service_pb2, access_service_pb2_grpc, audit_service_pb2, audit_service_pb2_grpc,
    deny_policy_service_pb2, deny_policy_service_pb2_grpc, policy_pb2, policy_service_pb2, policy_service_pb2_grpc,
    resource_service_pb2, resource_service_pb2_grpc, role_service_pb2, role_service_pb2_grpc,
    shared_policy_service_pb2, shared_policy_service_pb2_grpc, sync_service_pb2, sync_service_pb2_grpc,
    watch_service_pb2, watch_service_pb2_grpc,
)

from .errors import ConflictError, from_rpc_error  # noqa: E402
from .models import (  # noqa: E402
    Policy, PolicyBinding, PolicyConfig, PolicySyncStatus, ResourcePolicy, full_role, member, principal, role_name,
)

#: The collections of the built-in schema's types; another type `t` is looked for in `{t}s`.
DEFAULT_COLLECTIONS = {"organization": "organizations", "cloud": "clouds", "project": "projects"}
ORGANIZATION = "organization"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Service:
    """One gRPC service of the API: each RPC is a snake_case method taking the request message, or its fields as
    keyword arguments (nested messages as dicts). Failures raise typed errors (policy_client.errors); a
    server-streaming RPC returns an iterator."""

    def __init__(self, client: "PolicyClient", module: Any, grpc_module: Any, name: str):
        stub = getattr(grpc_module, f"{name}Stub")(client.channel)
        self._client = client
        self.stub = stub
        for method in module.DESCRIPTOR.services_by_name[name].methods:
            # Every request message is defined in its service's file.
            request_type = getattr(module, method.input_type.name)
            setattr(self, _snake(method.name), self._method(getattr(stub, method.name), request_type, method.server_streaming))

    def _method(self, rpc: Any, request_type: Any, streaming: bool) -> Callable[..., Any]:
        client = self._client

        def call(request: Any = None, *, timeout: Optional[float] = None, **fields: Any) -> Any:
            if request is None:
                request = request_type(**fields)
            elif fields:
                raise TypeError("give a request message or its fields, not both")
            metadata = _with_trace_context(client.metadata)
            if streaming:
                return _errors_mapped(rpc(request, metadata=metadata, timeout=timeout))
            try:
                return rpc(request, metadata=metadata, timeout=timeout or client.timeout)
            except grpc.RpcError as error:
                raise from_rpc_error(error) from None

        call.__doc__ = f"{request_type.DESCRIPTOR.full_name} -> the RPC's response."
        return call


def _with_trace_context(metadata: tuple) -> tuple:
    """The call's metadata with the active OpenTelemetry context (W3C ``traceparent``, ``tracestate``) injected by the
    globally configured propagator, so that the server's spans join the caller's trace; unchanged without
    OpenTelemetry or outside a span."""
    if _otel_propagate is None:
        return metadata
    carrier: Dict[str, str] = {}
    _otel_propagate.inject(carrier)
    return metadata + tuple((key.lower(), value) for key, value in carrier.items()) if carrier else metadata


def _errors_mapped(stream: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from stream
    except grpc.RpcError as error:
        raise from_rpc_error(error) from None


class PolicyClient:
    """A client of the policy service.

    ``target``: ``host:port``, ``http://host:port`` or ``https://host:port`` (default ``$POLICY_SERVER``, else
    ``127.0.0.1:8080``); both the main port and the gRPC port serve every RPC. ``token`` is sent as a bearer token;
    ``root_certificates`` (PEM bytes) are trusted for ``https``. ``organization`` is the current organization (default
    ``$POLICY_ORGANIZATION``, else the only one on the server).
    """

    def __init__(self, target: Optional[str] = None, *, token: Optional[str] = None,
                 root_certificates: Optional[bytes] = None, organization: Optional[str] = None,
                 timeout: float = 30.0, collections: Optional[Dict[str, str]] = None,
                 channel: Optional[grpc.Channel] = None):
        target = target or os.environ.get("POLICY_SERVER") or "127.0.0.1:8080"
        secure = target.startswith("https://")
        address = re.sub(r"^https?://", "", target).rstrip("/")
        if channel is None:
            channel = (grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates)) if secure
                       else grpc.insecure_channel(address))
        self.channel = channel
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout = timeout
        self.organization = organization or os.environ.get("POLICY_ORGANIZATION") or None
        self.collections = {**DEFAULT_COLLECTIONS, **(collections or {})}
        self.policies = Service(self, policy_service_pb2, policy_service_pb2_grpc, "PolicyService")
        self.resources = Service(self, resource_service_pb2, resource_service_pb2_grpc, "ResourceService")
        self.access = Service(self, access_service_pb2, access_service_pb2_grpc, "AccessService")
        self.audit = Service(self, audit_service_pb2, audit_service_pb2_grpc, "AuditService")
        self.sync = Service(self, sync_service_pb2, sync_service_pb2_grpc, "SyncService")
        self.watcher = Service(self, watch_service_pb2, watch_service_pb2_grpc, "WatchService")
        self.deny_policies = Service(self, deny_policy_service_pb2, deny_policy_service_pb2_grpc, "DenyPolicyService")
        self.roles = Service(self, role_service_pb2, role_service_pb2_grpc, "RoleService")
        self.shared_policies = Service(self, shared_policy_service_pb2, shared_policy_service_pb2_grpc, "SharedPolicyService")

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "PolicyClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- Anyscale's policy SDK -------------------------------------------------------------------------------------

    def set(self, resource_type: str, config: PolicyConfig, resource_id: Optional[str] = None) -> Policy:
        """Set the policy of a resource to ``config``'s bindings (Anyscale's ``policy.set``). Organizations take no
        ``resource_id``. Written with the etag just read, and redone if another writer got in between."""
        resource = self.resource_name(resource_type, resource_id)
        bindings = [policy_pb2.Binding(role=full_role(b.role_name), members=[member(p) for p in b.principals])
                    for b in config.bindings]

        def replace(policy: policy_pb2.Policy) -> policy_pb2.Policy:
            del policy.bindings[:]
            policy.bindings.extend(bindings)
            return policy

        return _policy_model(self.modify_policy(resource, replace))

    def get(self, resource_type: str, resource_id: Optional[str] = None) -> Policy:
        """The policy of a resource (Anyscale's ``policy.get``)."""
        return _policy_model(self.get_iam_policy(self.resource_name(resource_type, resource_id)))

    def list(self, resource_type: str, parent: Optional[str] = None) -> List[ResourcePolicy]:
        """The policies of the resources of one type that have bindings (Anyscale's ``policy.list``), optionally
        beneath ``parent`` (a full name such as ``organizations/acme``)."""
        result: List[ResourcePolicy] = []
        for item in self._pages(self.policies.list_policies, "resource_policies",
                                resource_type=resource_type, parent=parent or ""):
            model = _policy_model(item.policy)
            result.append(ResourcePolicy(resource_id=item.resource.split("/", 1)[1], resource_type=resource_type,
                                         bindings=model.bindings, sync_status=model.sync_status))
        return result

    # -- IAM's shape ----------------------------------------------------------------------------------------------

    def get_iam_policy(self, resource: str, requested_policy_version: int = 3) -> policy_pb2.Policy:
        return self.policies.get_policy(resource=resource, options={"requested_policy_version": requested_policy_version})

    def set_iam_policy(self, resource: str, policy: policy_pb2.Policy,
                       update_mask: Optional[Sequence[str]] = None) -> policy_pb2.Policy:
        """SetPolicy. With ``policy.etag`` set, it fails with ConflictError if the policy changed since."""
        fields: Dict[str, Any] = {"resource": resource, "policy": policy}
        if update_mask is not None:
            fields["update_mask"] = {"paths": list(update_mask)}
        return self.policies.set_policy(**fields)

    def test_iam_permissions(self, resource: str, permissions: Sequence[str]) -> List[str]:
        """The subset of ``permissions`` the caller has on ``resource``."""
        return [*self.policies.test_iam_permissions(resource=resource, permissions=list(permissions)).permissions]

    def modify_policy(self, resource: str, modify: Callable[[policy_pb2.Policy], Optional[policy_pb2.Policy]], *,
                      max_attempts: int = 10, base_delay: float = 0.02, max_delay: float = 1.0) -> policy_pb2.Policy:
        """IAM's read-modify-write: read the policy (version 3), apply ``modify`` (it may change the policy in place
        or return a new one), write it with the etag read; on ConflictError (another writer in between) start over
        after a backoff with full jitter. Other errors are raised at once; the last conflict after ``max_attempts``."""
        for attempt in range(1, max_attempts + 1):
            policy = self.get_iam_policy(resource)
            changed = modify(policy)
            if changed is not None:
                policy = changed
            policy.version = 3 if any(b.HasField("condition") for b in policy.bindings) else 1
            try:
                return self.set_iam_policy(resource, policy)
            except ConflictError:
                if attempt == max_attempts:
                    raise
                time.sleep(random.uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1))))
        raise AssertionError("unreachable")

    def add_binding(self, resource: str, role: str, members: Sequence[str]) -> policy_pb2.Policy:
        """Grant ``role`` to ``members`` (bare names as in PolicyBinding are accepted), read-modify-write."""
        role, wanted = full_role(role), [member(m) for m in members]

        def add(policy: policy_pb2.Policy) -> None:
            policy.bindings.add(role=role, members=wanted)  # the server merges bindings of the same role

        return self.modify_policy(resource, add)

    def remove_binding(self, resource: str, role: str, members: Sequence[str]) -> policy_pb2.Policy:
        """Take ``members`` out of the unconditional binding of ``role``, read-modify-write."""
        role, unwanted = full_role(role), {member(m) for m in members}

        def remove(policy: policy_pb2.Policy) -> policy_pb2.Policy:
            kept = []
            for b in policy.bindings:
                if b.role == role and not b.HasField("condition"):
                    remaining = [m for m in b.members if m not in unwanted]
                    if not remaining:
                        continue
                    del b.members[:]
                    b.members.extend(remaining)
                kept.append(b)
            result = policy_pb2.Policy()
            result.CopyFrom(policy)
            del result.bindings[:]
            result.bindings.extend(kept)
            return result

        return self.modify_policy(resource, remove)

    # -- Names ----------------------------------------------------------------------------------------------------

    def resource_name(self, resource_type: str, resource_id: Optional[str] = None) -> str:
        """``("cloud", "cld_abc123")`` -> ``clouds/cld_abc123``; an organization is the current one and takes no id."""
        collection = self.collections.get(resource_type, f"{resource_type}s")
        if resource_type == ORGANIZATION:
            if resource_id is not None:
                raise ValueError("resource_id is not allowed for organization: the current organization is used")
            return self.current_organization()
        if not resource_id:
            raise ValueError(f"resource_id is required for {resource_type}")
        return resource_id if resource_id.startswith(f"{collection}/") else f"{collection}/{resource_id}"

    def current_organization(self) -> str:
        """The organization given to the client, else the only one on the server."""
        collection = self.collections[ORGANIZATION]
        if self.organization:
            return self.organization if "/" in self.organization else f"{collection}/{self.organization}"
        found = self.resources.list_resources(type=ORGANIZATION, page_size=2).resources
        if len(found) != 1:
            raise ValueError("there is no organization on the server" if not found else
                             "there are several organizations: give PolicyClient(organization=...)")
        return found[0].name

    @staticmethod
    def _pages(method: Callable[..., Any], items: str, **fields: Any) -> Iterator[Any]:
        token = ""
        while True:
            page = method(page_size=1000, page_token=token, **fields)
            yield from getattr(page, items)
            token = page.next_page_token
            if not token:
                return


def _policy_model(policy: policy_pb2.Policy) -> Policy:
    status = policy_pb2.SyncStatus.Name(policy.sync_status).replace("SYNC_STATUS_", "").lower()
    return Policy(
        bindings=[PolicyBinding(role_name(b.role), [principal(m) for m in b.members]) for b in policy.bindings],
        # UNSPECIFIED only from a server that computes no status: with no consumer there is nothing to deliver.
        sync_status=PolicySyncStatus(status) if status in PolicySyncStatus._value2member_map_ else PolicySyncStatus.SUCCESS,
    )
