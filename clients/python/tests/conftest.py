"""Fixtures: a client of the server that run-tests.sh started (POLICY_TARGET), and an organization of its own.
Ends the run with CI's line: "python-sdk: N passed, N failed, N skipped"."""
import os
import sys
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from policy_client import PolicyClient  # noqa: E402


@pytest.fixture(scope="session")
def target():
    return os.environ["POLICY_TARGET"]


@pytest.fixture(scope="session")
def org(target):
    """A fresh organization with a cloud and a project in it: (organization id, cloud id, project id)."""
    suffix = uuid.uuid4().hex[:8]
    ids = (f"org_{suffix}", f"cld_{suffix}", f"prj_{suffix}")
    with PolicyClient(target) as c:
        c.resources.create_resource(resource={"name": f"organizations/{ids[0]}"})
        c.resources.create_resource(resource={"name": f"clouds/{ids[1]}", "parent": f"organizations/{ids[0]}"})
        c.resources.create_resource(resource={"name": f"projects/{ids[2]}", "parent": f"clouds/{ids[1]}"})
    return ids


@pytest.fixture
def client(target, org):
    with PolicyClient(target, organization=org[0]) as c:
        yield c


def pytest_terminal_summary(terminalreporter):
    stats = terminalreporter.stats
    count = lambda key: len([r for r in stats.get(key, []) if getattr(r, "when", "call") in ("call", "setup", "collect")])
    failed = count("failed") + count("error")
    terminalreporter.write_line(f"python-sdk: {count('passed')} passed, {failed} failed, {count('skipped')} skipped")
