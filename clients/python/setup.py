"""Builds the policy_client package (pyproject.toml has its metadata). The gRPC code it is built on is generated from
the repository's proto/ by generate.sh (Debian: protobuf-compiler, protobuf-compiler-grpc) when a build finds it
missing, so ``pip install ./clients/python`` works from a fresh clone; a wheel carries the generated code."""
import os
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildWithGeneratedCode(build_py):
    def run(self):
        if not os.path.isdir(os.path.join(HERE, "policy_client", "_gen", "policy")):
            subprocess.run(["bash", os.path.join(HERE, "generate.sh")], check=True)
        super().run()


setup(cmdclass={"build_py": BuildWithGeneratedCode})
