"""Policies as code from Python: export a subtree as estate files (resources, policies, deny policies, custom roles,
shared policies and their bindings), plan, apply (creations through ResourceService.ImportResources), re-apply as a
no-op, a concurrent edit stopping an apply, and prune."""
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
    assert [c.kind for c in plan.changes] == ["create", "create", "create", "set_policy"]
    assert apply_plan(client, plan) == 4
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


def _every_kind(client, s):
    """An organization with a cloud and two projects, a policy that grants a custom role, a deny policy, and a shared
    policy (with its own access policy) bound to one project."""
    org, cloud, p1, p2 = f"organizations/pyall_{s}", f"clouds/pyallc_{s}", f"projects/pyall1_{s}", f"projects/pyall2_{s}"
    shared = f"sharedPolicies/pyallsp_{s}"
    client.resources.create_resource(resource={"name": org, "display_name": "All kinds"})
    client.resources.create_resource(resource={"name": cloud, "parent": org})
    client.resources.create_resource(resource={"name": p1, "parent": cloud, "display_name": "One"})
    client.resources.create_resource(resource={"name": p2, "parent": cloud})
    client.roles.create_role(parent=org, role_id="deployer", role={"title": "Deployer", "description": "ships",
                                                                   "included_permissions": ["projects.get", "projects.update"]})
    client.roles.create_role(parent=org, role_id="gone", role={"title": "Gone", "included_permissions": ["projects.get"]})
    client.roles.delete_role(name=f"{org}/roles/gone")
    client.policies.set_policy(resource=p1, policy={"bindings": [
        {"role": f"{org}/roles/deployer", "members": ["user:dev@x.com"]},
        {"role": "roles/readonly", "members": ["user:b@x.com", "user:a@x.com"]}]})
    client.deny_policies.set_deny_policy(resource=cloud, deny_policy={
        "resource": cloud, "rules": [{"denied_principals": ["user:intern@x.com"], "denied_permissions": ["projects.delete"]}]})
    client.shared_policies.create_shared_policy(parent=org, shared_policy_id=shared.split("/")[1], shared_policy={
        "display_name": "Baseline", "description": "for all", "bindings": [{"role": "roles/readonly", "members": ["group:auditors"]}],
        "deny_rules": [{"denied_principals": ["user:ex@x.com"], "denied_permissions": ["projects.get"]}]})
    client.policies.set_policy(resource=shared, policy={"bindings": [{"role": "roles/owner", "members": ["user:sec@x.com"]}]})
    client.shared_policies.create_shared_policy_binding(binding={"shared_policy": shared, "target": p2})
    return org, shared, p2


def test_every_kind_round_trips_through_files_to_a_new_subtree(client, tmp_path):
    s = uuid.uuid4().hex[:8]
    org, shared, p2 = _every_kind(client, s)
    d = _estate_dir(tmp_path, client, org)
    files = sorted(str(p.relative_to(d)) for p in d.rglob("*.yaml"))
    assert f"roles/{org}/deployer.yaml" in files and f"shared-policies/pyallsp_{s}.yaml" in files
    assert f"roles/{org}/gone.yaml" not in files  # deleted roles are not exported
    shared_text = (d / "shared-policies" / f"pyallsp_{s}.yaml").read_text()
    assert f"targets:\n  - {p2}" in shared_text and "user:sec@x.com" in shared_text and "group:auditors" in shared_text
    # Unchanged: nothing to plan, and a second export writes the same bytes.
    assert plan_apply(client, read_estate(str(d))).changes == []
    before = {p: p.read_bytes() for p in d.rglob("*.yaml")}
    write_estate(str(d), export_subtree(client, org))
    assert {p: p.read_bytes() for p in d.rglob("*.yaml")} == before

    # The same files under new names (paths and contents), applied to the server: every kind is created, in order.
    t = s + "c"
    copy = tmp_path / "copy"
    for path, data in before.items():
        target = copy / str(path.relative_to(d)).replace(s, t)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.replace(s.encode(), t.encode()))
    estate = read_estate(str(copy))
    plan = plan_apply(client, estate)
    kinds = [c.kind for c in plan.changes]
    assert kinds.index("create_role") > kinds.index("create")
    assert kinds.index("create_shared_policy") > kinds.index("create_role")
    assert kinds[-1] == "bind"
    apply_plan(client, plan)
    assert plan_apply(client, estate).changes == []
    again = tmp_path / "again"
    write_estate(str(again), export_subtree(client, estate.subtree))
    assert {str(p.relative_to(again)): p.read_bytes() for p in again.rglob("*.yaml")} == {
        str(p.relative_to(copy)): p.read_bytes() for p in copy.rglob("*.yaml")}
    # The policy that grants the custom role was set after the role was created (not in the import).
    policy = client.policies.get_policy(resource=f"projects/pyall1_{t}")
    assert f"organizations/pyall_{t}/roles/deployer" in [b.role for b in policy.bindings]


def test_roles_and_shared_policies_plan_updates_and_prune(client, tmp_path):
    s = uuid.uuid4().hex[:8]
    org, shared, p2 = _every_kind(client, s)
    estate = export_subtree(client, org)
    role = estate.roles[0]
    role.included_permissions = sorted(role.included_permissions + ["projects.list"])
    sp = estate.shared_policies[0]
    sp.bindings = [{"role": "roles/readonly", "members": ["group:auditors", "group:more"]}]
    plan = plan_apply(client, estate)
    assert [(c.kind, c.name) for c in plan.changes] == [("update_role", role.name), ("update_shared_policy", shared)]
    assert "+group:more" in str(plan)
    apply_plan(client, plan)
    assert plan_apply(client, estate).changes == []
    # Without the shared policy and the role in the files: left alone, listed as unmanaged; with prune, unbound and
    # deleted after everything else.
    estate.shared_policies, estate.roles = [], []
    kept = plan_apply(client, estate)
    assert kept.changes == [] and len(kept.unmanaged) == 3
    plan = plan_apply(client, estate, prune=True)
    assert [(c.kind, c.name) for c in plan.changes] == [("unbind", shared), ("delete_shared_policy", shared), ("delete_role", role.name)]
    apply_plan(client, plan)
    assert plan_apply(client, estate, prune=True).changes == []
