"""Policies as code from Python: export a subtree's resources and policies as estate files, plan, apply (creations
through ResourceService.ImportResources), re-apply as a no-op, a concurrent edit stopping an apply, and prune."""
import uuid

import pytest

from policy_client import ApplyAborted, PolicyClient, apply_plan, export_subtree, plan_apply, read_estate, write_estate


@pytest.fixture()
def client(target):
    with PolicyClient(target) as c:
        yield c


def _estate_dir(tmp_path, client, org):
    d = tmp_path / "estate"
    write_estate(str(d), export_subtree(client, org))
    return d


def test_export_plan_apply_round_trip(client, tmp_path):
    s = uuid.uuid4().hex[:8]
    org, cloud, project = f"organizations/pyorg_{s}", f"clouds/pyc_{s}", f"projects/pyp_{s}"
    client.resources.create_resource(resource={"name": org, "display_name": "Py"})
    client.resources.create_resource(resource={"name": cloud, "parent": org})
    client.resources.create_resource(resource={"name": project, "parent": cloud})
    client.policies.set_policy(resource=project, policy={"bindings": [{"role": "roles/readonly", "members": ["user:b@x.com", "user:a@x.com"]}]})
    d = _estate_dir(tmp_path, client, org)
    text = (d / "resources" / f"{project}.yaml").read_text()
    assert "etag" not in text and "user:a@x.com" in text
    # Unchanged: nothing to do; the export is stable.
    assert plan_apply(client, read_estate(str(d))).changes == []
    before = {p: p.read_text() for p in d.rglob("*.yaml")}
    write_estate(str(d), export_subtree(client, org))
    assert {p: p.read_text() for p in d.rglob("*.yaml")} == before

    # The same estate under new names is created (through the bulk import) on the server, then is a no-op.
    estate = read_estate(str(d))
    renamed = {r.name: r.name.replace(s, s + "b") for r in estate.resources}
    estate.subtree = renamed[estate.subtree]
    for r in estate.resources:
        r.name, r.parent = renamed[r.name], renamed.get(r.parent, r.parent)
    plan = plan_apply(client, estate)
    assert [c.kind for c in plan.changes] == ["create", "create", "create"]
    assert apply_plan(client, plan) == 3
    assert plan_apply(client, estate).changes == []
    assert export_subtree(client, estate.subtree).resources == estate.resources


def test_a_change_plans_as_a_binding_diff_and_a_concurrent_edit_aborts(client, tmp_path):
    s = uuid.uuid4().hex[:8]
    org, cloud = f"organizations/pyorg2_{s}", f"clouds/pyc2_{s}"
    client.resources.create_resource(resource={"name": org})
    client.resources.create_resource(resource={"name": cloud, "parent": org})
    estate = export_subtree(client, org)
    target = next(r for r in estate.resources if r.name == cloud)
    target.policy = {"version": 1, "bindings": [{"role": "roles/readonly", "members": ["user:git@x.com"]}]}
    plan = plan_apply(client, estate)
    assert [(c.kind, c.name) for c in plan.changes] == [("set_policy", cloud)]
    assert "+user:git@x.com" in str(plan)
    client.policies.set_policy(resource=cloud, policy={"bindings": [{"role": "roles/readonly", "members": ["user:hotfix@x.com"]}]})
    with pytest.raises(ApplyAborted, match="changed since the plan read it"):
        apply_plan(client, plan)
    members = [m for b in client.policies.get_policy(resource=cloud).bindings for m in b.members]
    assert members == ["user:hotfix@x.com"]


def test_prune_deletes_children_first(client, tmp_path):
    s = uuid.uuid4().hex[:8]
    org, cloud, project = f"organizations/pyorg3_{s}", f"clouds/pyc3_{s}", f"projects/pyp3_{s}"
    client.resources.create_resource(resource={"name": org})
    client.resources.create_resource(resource={"name": cloud, "parent": org})
    client.resources.create_resource(resource={"name": project, "parent": cloud})
    estate = export_subtree(client, org)
    estate.resources = [r for r in estate.resources if r.name == org]
    assert plan_apply(client, estate).changes == []
    plan = plan_apply(client, estate, prune=True)
    assert [(c.kind, c.name) for c in plan.changes] == [("delete", project), ("delete", cloud)]
    apply_plan(client, plan)
    assert plan_apply(client, estate, prune=True).changes == []
