"""The Python SDK against a real server: Anyscale's set/get/list and models, IAM's calls, the read-modify-write with
retry, typed errors, every service, and the runnable example."""
import os
import subprocess
import sys

import pytest

from policy_client import (
    AlreadyExistsError, ConflictError, FailedPreconditionError, InvalidArgumentError, NotFoundError, Policy,
    PolicyBinding, PolicyClient, PolicyConfig, PolicySyncStatus, ResourcePolicy,
)

CONFIG = PolicyConfig(bindings=[
    PolicyBinding(role_name="collaborator", principals=["ug_abc123"]),
    PolicyBinding(role_name="readonly", principals=["ug_def456", "ug_ghi789"]),
])


def test_models_to_dict_and_options():
    assert CONFIG.to_dict() == {"bindings": [
        {"role_name": "collaborator", "principals": ["ug_abc123"]},
        {"role_name": "readonly", "principals": ["ug_def456", "ug_ghi789"]},
    ]}
    other = CONFIG.options(bindings=[PolicyBinding("readonly", ["ug_x"])])
    assert other.bindings == [PolicyBinding("readonly", ["ug_x"])] and len(CONFIG.bindings) == 2
    assert PolicyConfig.from_dict(CONFIG.to_dict()) == CONFIG
    assert ResourcePolicy("cld_1", "cloud", sync_status=PolicySyncStatus.PENDING).to_dict() == {
        "resource_id": "cld_1", "resource_type": "cloud", "bindings": [], "sync_status": "pending"}


def test_set_get_list_in_anyscales_shape(client, org):
    _, cloud, _ = org
    stored = client.set(resource_type="cloud", resource_id=cloud, config=CONFIG)
    assert isinstance(stored, Policy)
    assert stored.bindings == CONFIG.bindings
    got = client.get(resource_type="cloud", resource_id=cloud)
    assert got.to_dict() == {**CONFIG.to_dict(), "sync_status": "success"}
    assert str(got.sync_status) == "success"
    # The IAM form underneath: full roles, prefixed members.
    iam = client.get_iam_policy(f"clouds/{cloud}")
    assert [(b.role, list(b.members)) for b in iam.bindings] == [
        ("roles/collaborator", ["group:ug_abc123"]), ("roles/readonly", ["group:ug_def456", "group:ug_ghi789"])]

    listed = [p for p in client.list(resource_type="cloud") if p.resource_id == cloud]
    assert [p.to_dict() for p in listed] == [{"resource_id": cloud, "resource_type": "cloud", **CONFIG.to_dict(),
                                               "sync_status": "success"}]
    # set replaces: a second set with one binding leaves one.
    client.set("cloud", PolicyConfig(bindings=[PolicyBinding("readonly", ["ada@example.com"])]), resource_id=cloud)
    assert client.get("cloud", cloud).bindings == [PolicyBinding("readonly", ["ada@example.com"])]


def test_organization_policies_take_no_resource_id(client):
    client.set(resource_type="organization", config=PolicyConfig(bindings=[PolicyBinding("owner", ["ug_admins"])]))
    assert client.get(resource_type="organization").bindings == [PolicyBinding("owner", ["ug_admins"])]
    with pytest.raises(ValueError, match="resource_id is not allowed"):
        client.get(resource_type="organization", resource_id="x")
    with pytest.raises(ValueError, match="resource_id is required"):
        client.get(resource_type="cloud")


def test_typed_errors(client, org):
    with pytest.raises(NotFoundError):
        client.get("cloud", "cld_does_not_exist")
    with pytest.raises(InvalidArgumentError) as bad:
        client.set("cloud", PolicyConfig(bindings=[PolicyBinding("owner", ["ug_x"])]), resource_id=org[1])
    assert bad.value.field_violations and bad.value.field_violations[0][0].startswith("policy.bindings[0].role")
    # Each problem once: the server's message and its BadRequest name the same violations.
    assert str(bad.value) == ("INVALID_ARGUMENT: a problem in the request:\n"
                              f"  {bad.value.field_violations[0][0]}: {bad.value.field_violations[0][1]}")
    assert str(bad.value).count("cannot be granted") == 1
    with pytest.raises(AlreadyExistsError):
        client.resources.create_resource(resource={"name": f"clouds/{org[1]}", "parent": f"organizations/{org[0]}"})
    with pytest.raises(FailedPreconditionError):
        client.resources.delete_resource(name=f"clouds/{org[1]}")
    stale = client.get_iam_policy(f"projects/{org[2]}")
    client.add_binding(f"projects/{org[2]}", "readonly", ["ug_one"])
    with pytest.raises(ConflictError):
        client.set_iam_policy(f"projects/{org[2]}", stale)


def test_modify_policy_starts_over_when_another_writer_got_in_between(target, client, org):
    resource = f"projects/{org[2]}"
    other = PolicyClient(target)
    attempts = []

    def grant(policy):
        attempts.append(1)
        if len(attempts) == 1:  # a concurrent write between our read and our write
            other.add_binding(resource, "collaborator", ["ug_other"])
        policy.bindings.add(role="roles/owner", members=["user:ada@example.com"])

    stored = client.modify_policy(resource, grant)
    other.close()
    assert len(attempts) == 2
    roles = {b.role: list(b.members) for b in stored.bindings}
    assert roles["roles/collaborator"] == ["group:ug_other"] and roles["roles/owner"] == ["user:ada@example.com"]
    removed = client.remove_binding(resource, "owner", ["ada@example.com"])
    assert "roles/owner" not in {b.role for b in removed.bindings}


def test_every_service_is_reachable(client, org):
    org_name, cloud, project = f"organizations/{org[0]}", f"clouds/{org[1]}", f"projects/{org[2]}"
    assert client.resources.get_resource(name=project).parent == cloud
    assert [r.name for r in client.resources.list_resources(parent=org_name).resources] == [cloud]
    client.add_binding(cloud, "readonly", ["ada@example.com"])
    effective = client.policies.lookup_effective_policy(resource=project)
    assert cloud in [p.resource for p in effective.policies]
    check = client.access.check_access(resource=project, principals=["user:ada@example.com"],
                                       permissions=["projects.get", "projects.delete"])
    assert list(check.granted_permissions) == ["projects.get"]
    assert client.test_iam_permissions(project, ["projects.get"]) == ["projects.get"]  # development mode
    actions = [e.action for e in client.audit.list_audit_entries(resource=cloud).entries]
    assert actions[0] == "resource.create" and "policy.set" in actions
    consumer = client.sync.create_consumer(consumer={"name": f"consumers/py-{org[0].replace('_', '-')}", "subtree": org_name})
    assert consumer.name in [c.name for c in client.sync.list_consumers().consumers]
    client.sync.delete_consumer(name=consumer.name)
    stream = client.watcher.watch(after_sequence=0, subtree=org_name, timeout=10)
    first = next(iter(stream))
    assert first.change.resource == org_name
    stream.cancel() if hasattr(stream, "cancel") else None


def test_the_example_runs_and_leaves_nothing_behind(target):
    example = os.path.join(os.path.dirname(__file__), "..", "examples", "quickstart.py")
    env = {**os.environ, "POLICY_SERVER": target}
    with PolicyClient(target) as c:
        before = [r.name for r in c.resources.list_resources(type="organization", page_size=1000).resources]
    result = subprocess.run([sys.executable, example], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "collaborator: ['ug_abc123']" in result.stdout
    # Its organization is gone again: a server that had one organization still has one.
    assert "Deleted organizations/example_" in result.stdout
    with PolicyClient(target) as c:
        assert [r.name for r in c.resources.list_resources(type="organization", page_size=1000).resources] == before


def test_calls_carry_the_callers_trace_context_when_opentelemetry_is_set_up(target, org, monkeypatch):
    """With OpenTelemetry installed, the propagator's headers (W3C traceparent) go out as gRPC metadata of every call."""
    import grpc
    from policy_client import client as client_module

    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    class Propagator:
        @staticmethod
        def inject(carrier):
            carrier["traceparent"] = traceparent

    sent = []

    class Capture(grpc.UnaryUnaryClientInterceptor):
        def intercept_unary_unary(self, continuation, details, request):
            sent.append(dict(details.metadata or ()))
            return continuation(details, request)

    monkeypatch.setattr(client_module, "_otel_propagate", Propagator)
    channel = grpc.intercept_channel(grpc.insecure_channel(target), Capture())
    with PolicyClient(target, organization=org[0], channel=channel) as c:
        c.get_iam_policy(f"organizations/{org[0]}")
    assert sent and sent[-1].get("traceparent") == traceparent

    monkeypatch.setattr(client_module, "_otel_propagate", None)
    sent.clear()
    with PolicyClient(target, organization=org[0], channel=grpc.intercept_channel(grpc.insecure_channel(target), Capture())) as c:
        c.get_iam_policy(f"organizations/{org[0]}")
    assert sent and "traceparent" not in sent[-1]
