"""A Python client generated from proto/ with protoc and grpc_python_plugin, against the running server.

Run by test/python/run.sh (which generates the code and starts the server); the target comes from POLICY_TARGET.
"""
import os
import unittest
import uuid

import grpc
from google.rpc import error_details_pb2, status_pb2
from policy.v1 import policy_pb2, policy_service_pb2, policy_service_pb2_grpc
from policy.v1 import resource_pb2, resource_service_pb2, resource_service_pb2_grpc
from policy.v1 import watch_service_pb2, watch_service_pb2_grpc

TARGET = os.environ["POLICY_TARGET"]


def status_details(error: grpc.RpcError) -> status_pb2.Status:
    """The google.rpc.Status a server sends in the grpc-status-details-bin trailer."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)
    raise AssertionError("no grpc-status-details-bin trailer")


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.channel = grpc.insecure_channel(TARGET)
        cls.resources = resource_service_pb2_grpc.ResourceServiceStub(cls.channel)
        cls.policies = policy_service_pb2_grpc.PolicyServiceStub(cls.channel)
        suffix = uuid.uuid4().hex[:8]
        cls.org = f"organizations/py_{suffix}"
        cls.cloud = f"clouds/py_{suffix}"
        cls.resources.CreateResource(resource_service_pb2.CreateResourceRequest(resource=resource_pb2.Resource(name=cls.org)))
        cls.resources.CreateResource(
            resource_service_pb2.CreateResourceRequest(resource=resource_pb2.Resource(name=cls.cloud, parent=cls.org))
        )

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    def test_created_resources_read_back_with_type_and_parent(self):
        cloud = self.resources.GetResource(resource_service_pb2.GetResourceRequest(name=self.cloud))
        self.assertEqual(cloud.type, "cloud")
        self.assertEqual(cloud.parent, self.org)
        self.assertTrue(cloud.etag)

    def test_set_and_get_policy(self):
        policy = policy_pb2.Policy(
            bindings=[policy_pb2.Binding(role="roles/readonly", members=["user:Py@Example.com", "group:ug_py"])]
        )
        stored = self.policies.SetPolicy(policy_service_pb2.SetPolicyRequest(resource=self.cloud, policy=policy))
        got = self.policies.GetPolicy(policy_service_pb2.GetPolicyRequest(resource=self.cloud))
        self.assertEqual(got.etag, stored.etag)
        self.assertEqual(got.version, 1)
        self.assertEqual(list(got.bindings[0].members), ["group:ug_py", "user:py@example.com"])

    def test_stale_etag_is_aborted(self):
        first = self.policies.GetPolicy(policy_service_pb2.GetPolicyRequest(resource=self.org))
        bindings = [policy_pb2.Binding(role="roles/owner", members=["user:a@example.com"])]
        self.policies.SetPolicy(
            policy_service_pb2.SetPolicyRequest(
                resource=self.org, policy=policy_pb2.Policy(etag=first.etag, bindings=bindings)
            )
        )
        with self.assertRaises(grpc.RpcError) as raised:
            self.policies.SetPolicy(
                policy_service_pb2.SetPolicyRequest(
                    resource=self.org, policy=policy_pb2.Policy(etag=first.etag, bindings=bindings)
                )
            )
        self.assertEqual(raised.exception.code(), grpc.StatusCode.ABORTED)
        self.assertIn("read it again", raised.exception.details())

    def test_watch_streams_the_subtree_in_order_and_resumes_after_a_sequence(self):
        watch = watch_service_pb2_grpc.WatchServiceStub(self.channel)
        request = watch_service_pb2.WatchRequest(after_sequence=0, subtree=self.org)
        stream = watch.Watch(request, timeout=20)
        changes = []
        for response in stream:
            if response.WhichOneof("event") == "change":
                changes.append(response.change)
            if len(changes) == 2:
                break
        stream.cancel()
        self.assertEqual([c.resource for c in changes], [self.org, self.cloud])
        self.assertEqual(changes[0].kind, watch_service_pb2.CHANGE_KIND_RESOURCE_CREATED)
        self.assertEqual(changes[1].parent, self.org)
        self.assertLess(changes[0].sequence, changes[1].sequence)
        # Resuming after the first change starts exactly at the second.
        resumed = watch.Watch(
            watch_service_pb2.WatchRequest(after_sequence=changes[0].sequence, subtree=self.org), timeout=20
        )
        first = next(r for r in resumed if r.WhichOneof("event") == "change")
        resumed.cancel()
        self.assertEqual(first.change.sequence, changes[1].sequence)

    def test_invalid_member_carries_a_bad_request_detail(self):
        bad = policy_pb2.Policy(bindings=[policy_pb2.Binding(role="roles/readonly", members=["bob"])])
        with self.assertRaises(grpc.RpcError) as raised:
            self.policies.SetPolicy(policy_service_pb2.SetPolicyRequest(resource=self.cloud, policy=bad))
        self.assertEqual(raised.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        status = status_details(raised.exception)
        self.assertEqual(status.code, grpc.StatusCode.INVALID_ARGUMENT.value[0])
        bad_request = error_details_pb2.BadRequest()
        self.assertTrue(status.details[0].Unpack(bad_request))
        self.assertEqual(bad_request.field_violations[0].field, "policy.bindings[0].members[0]")
        self.assertIn('"bob"', bad_request.field_violations[0].description)

    def test_unknown_resource_is_not_found(self):
        with self.assertRaises(grpc.RpcError) as raised:
            self.policies.GetPolicy(policy_service_pb2.GetPolicyRequest(resource="projects/py_missing"))
        self.assertEqual(raised.exception.code(), grpc.StatusCode.NOT_FOUND)


if __name__ == "__main__":
    result = unittest.main(verbosity=2, exit=False).result
    # A setUpClass error is reported against no test (it ran none): it counts as a failure, never as -1 passed.
    failed_tests = {id(test) for test, _ in result.failures + result.errors if isinstance(test, unittest.TestCase)}
    failed = len(result.failures) + len(result.errors)
    skipped = len(result.skipped)
    passed = result.testsRun - len(failed_tests) - skipped
    print(f"python-interop: {passed} passed, {failed} failed, {skipped} skipped")
    raise SystemExit(1 if failed or result.testsRun == 0 else 0)
