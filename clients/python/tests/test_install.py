"""The Python SDK installed as the READMEs say, on what a fresh clone has, and the READMEs' Python snippets run as
written with the installed package.

A copy of the repository's clients/python without the generated code (a fresh clone has none), beside proto/ and
node_modules/google-proto-files (what `npm ci` gives), is installed with the README's own commands — the `python3 -m
venv` and `.venv/bin/pip` lines of its install block; the apt-get and npm lines are the machine's — with pip kept off
any package index (`PIP_NO_INDEX`): grpcio and protobuf must come from Debian's packages. Then each ```python block of
README.md's "Python SDK" section and of clients/python/README.md runs with the venv's Python, from a folder outside the
repository, against the test server (the walk-through's organization `acme` and cloud `cld_abc123` registered first).
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policy_client import AlreadyExistsError, PolicyClient

CLIENTS_PYTHON = Path(__file__).resolve().parents[1]
REPO = CLIENTS_PYTHON.parents[1]


def blocks(markdown: Path, language: str, section: str = "") -> list:
    """The fenced ```language blocks of a markdown file, or of its `## section` only."""
    text = markdown.read_text()
    if section:
        start = text.index(f"\n## {section}\n")
        end = text.find("\n## ", start + 1)
        text = text[start:end if end != -1 else None]
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.S | re.M)


def install_commands() -> list:
    """The install lines of README.md's Python SDK section: the venv and pip lines, without their comments."""
    [install] = [b for b in blocks(REPO / "README.md", "sh", "Python SDK") if "pip install" in b]
    lines = [re.sub(r"\s+#.*$", "", line) for line in install.splitlines()]
    commands = [line for line in lines if line.startswith(("python3 -m venv", ".venv/bin/pip"))]
    assert len(commands) == 2, install
    return commands


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory):
    checkout = tmp_path_factory.mktemp("clone")
    shutil.copytree(CLIENTS_PYTHON, checkout / "clients" / "python",
                    ignore=shutil.ignore_patterns("_gen", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"))
    (checkout / "proto").symlink_to(REPO / "proto")
    (checkout / "node_modules").mkdir()
    (checkout / "node_modules" / "google-proto-files").symlink_to(REPO / "node_modules" / "google-proto-files")
    # `python3` is the Python that runs these tests: Debian's, with python3-grpcio and python3-protobuf.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "PIP_NO_INDEX": "1"}
    for command in install_commands():
        result = subprocess.run(["bash", "-c", command], cwd=checkout, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    python = checkout / ".venv" / "bin" / "python"
    # Installed with its generated code, not found through the copy.
    where = subprocess.run([python, "-c", "import policy_client, os; print(os.path.dirname(policy_client.__file__))"],
                           cwd=tmp_path_factory.mktemp("elsewhere"), capture_output=True, text=True, check=True).stdout.strip()
    assert "site-packages" in where and os.path.isdir(os.path.join(where, "_gen", "policy", "v1")), where
    return python


@pytest.fixture(scope="module")
def walkthrough(target):
    """The walk-through's organization and cloud, as the README's snippets expect them."""
    with PolicyClient(target) as c:
        for resource in ({"name": "organizations/acme"}, {"name": "clouds/cld_abc123", "parent": "organizations/acme"}):
            try:
                c.resources.create_resource(resource=resource)
            except AlreadyExistsError:
                pass


SNIPPETS = [(REPO / "README.md", "Python SDK"), (CLIENTS_PYTHON / "README.md", "")]


@pytest.mark.parametrize("readme,section", SNIPPETS, ids=["README.md", "clients/python/README.md"])
def test_the_readme_snippets_run_as_written(venv_python, walkthrough, target, tmp_path, readme, section):
    snippets = blocks(readme, "python", section)
    assert snippets, f"no python block in {readme}"
    for snippet in snippets:
        script = tmp_path / "snippet.py"
        script.write_text(snippet)
        result = subprocess.run([venv_python, script], cwd=tmp_path, env={**os.environ, "POLICY_SERVER": target},
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{snippet}\n{result.stderr}"
        assert result.stderr == ""


def test_the_install_works_without_a_package_index(venv_python):
    # pip resolved grpcio and protobuf to Debian's packages (PIP_NO_INDEX above): the venv itself holds neither.
    listing = subprocess.run([venv_python, "-m", "pip", "list", "--local", "--format=freeze"],
                             capture_output=True, text=True, check=True).stdout
    assert re.search(r"^policy[-_]client==0\.1\.0$", listing, flags=re.M | re.I), listing
    assert not re.search(r"^(grpcio|protobuf)==", listing, flags=re.M | re.I), listing


def test_both_readmes_give_the_same_install_commands():
    [install] = [b for b in blocks(CLIENTS_PYTHON / "README.md", "sh") if "pip install" in b]
    assert [re.sub(r"\s+#.*$", "", line) for line in install.splitlines()] == install_commands()
