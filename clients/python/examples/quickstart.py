"""Anyscale's policy SDK examples, against the policy service: register an organization and a cloud, set the cloud's
policy, read it back, list the clouds' policies, then a conditional change with IAM's read-modify-write.

    POLICY_SERVER=127.0.0.1:8080 python3 clients/python/examples/quickstart.py
(with the SDK installed, see clients/python/README.md; or run clients/python/generate.sh once before).

It leaves nothing behind: the organization it registers (example_XXXXXX, with its cloud and policies) is deleted when
it ends, on Ctrl-C too, so that a server with one organization still has one (the CLI picks the only organization
when none is named).
"""
import os
import sys
import uuid

try:
    import policy_client  # noqa: F401  (installed: pip install ./clients/python)
except ImportError:  # run from the checkout: the package beside this folder
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from policy_client import PolicyBinding, PolicyClient, PolicyConfig  # noqa: E402

suffix = uuid.uuid4().hex[:6]
organization, cloud = f"example_{suffix}", f"cld_{suffix}"

with PolicyClient(organization=organization) as policy:  # the server from $POLICY_SERVER
    # Policies attach to registered resources.
    policy.resources.create_resource(resource={"name": f"organizations/{organization}"})
    try:
        policy.resources.create_resource(resource={"name": f"clouds/{cloud}", "parent": f"organizations/{organization}"})

        # Set policy for a cloud
        policy_config = PolicyConfig(
            bindings=[
                PolicyBinding(role_name="collaborator", principals=["ug_abc123"]),
                PolicyBinding(role_name="readonly", principals=["ug_def456", "ug_ghi789"]),
            ]
        )
        policy.set(resource_type="cloud", resource_id=cloud, config=policy_config)

        # Set policy for your organization (no resource_id needed)
        policy.set(resource_type="organization", config=PolicyConfig(bindings=[PolicyBinding("owner", ["ug_admins"])]))

        # Get policy for a cloud
        got = policy.get(resource_type="cloud", resource_id=cloud)
        print(f"Sync status: {got.sync_status}")
        for binding in got.bindings:
            print(f"{binding.role_name}: {binding.principals}")

        # List the policies of every cloud that has bindings
        for resource_policy in policy.list(resource_type="cloud"):
            if resource_policy.resource_id == cloud:
                print(f"{resource_policy.resource_id}: {resource_policy.to_dict()['bindings']}")

        # Beyond Anyscale: a read-modify-write that survives concurrent writers, and the permissions it grants.
        policy.add_binding(f"clouds/{cloud}", "readonly", ["ada@example.com"])
        check = policy.access.check_access(resource=f"clouds/{cloud}", principals=["user:ada@example.com"],
                                           permissions=["clouds.get", "clouds.delete"])
        print(f"ada@example.com may: {list(check.granted_permissions)}")
    finally:
        # Everything this example registered goes with its organization.
        policy.resources.delete_resource(name=f"organizations/{organization}", cascade=True)
        print(f"Deleted organizations/{organization} and its cloud: the server is as it was.")
