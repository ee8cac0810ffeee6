"""Anyscale's policy models: PolicyBinding, PolicyConfig, Policy, ResourcePolicy and PolicySyncStatus.

Role names are bare (``collaborator`` for ``roles/collaborator``) and principals are user-group ids (``ug_abc123`` for
``group:ug_abc123``) or emails (``ada@example.com`` for ``user:ada@example.com``); any other member keeps its prefix.
"""
from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any, Dict, List


class PolicySyncStatus(str, Enum):
    """Whether a policy's current revision reached every downstream consumer."""
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


class _Model:
    def to_dict(self) -> Dict[str, Any]:
        """Return a dictionary representation of the model."""
        def plain(value: Any) -> Any:
            if isinstance(value, _Model):
                return value.to_dict()
            if isinstance(value, list):
                return [plain(v) for v in value]
            if isinstance(value, Enum):
                return value.value
            return value
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


@dataclasses.dataclass
class PolicyBinding(_Model):
    """A binding of a role to a list of principals (user group ids)."""
    role_name: str
    principals: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class PolicyConfig(_Model):
    """Policy configuration with role bindings: what ``set`` writes."""
    bindings: List[PolicyBinding] = dataclasses.field(default_factory=list)

    def options(self, **fields: Any) -> "PolicyConfig":
        """Return a copy of the model with the provided field values overwritten."""
        return dataclasses.replace(self, **fields)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "PolicyConfig":
        """From Anyscale's YAML/JSON shape: ``{"bindings": [{"role_name": ..., "principals": [...]}]}``."""
        return cls(bindings=[PolicyBinding(b["role_name"], list(b.get("principals", []))) for b in data.get("bindings", [])])


@dataclasses.dataclass
class Policy(_Model):
    """The policy of a single resource."""
    bindings: List[PolicyBinding] = dataclasses.field(default_factory=list)
    sync_status: PolicySyncStatus = PolicySyncStatus.SUCCESS


@dataclasses.dataclass
class ResourcePolicy(_Model):
    """The policy of one resource of a listing."""
    resource_id: str
    resource_type: str
    bindings: List[PolicyBinding] = dataclasses.field(default_factory=list)
    sync_status: PolicySyncStatus = PolicySyncStatus.SUCCESS


def role_name(role: str) -> str:
    """``roles/collaborator`` -> ``collaborator``."""
    return role[len("roles/"):] if role.startswith("roles/") else role


def full_role(name: str) -> str:
    """``collaborator`` -> ``roles/collaborator``; a name with a ``/`` is kept."""
    return name if "/" in name else f"roles/{name}"


def principal(member: str) -> str:
    """``group:ug_abc123`` -> ``ug_abc123``, ``user:ada@example.com`` -> ``ada@example.com``."""
    for prefix in ("group:", "user:"):
        if member.startswith(prefix):
            return member[len(prefix):]
    return member


def member(principal_: str) -> str:
    """The inverse of ``principal``: a bare email is a ``user:``, any other bare id a ``group:``."""
    p = principal_.strip()
    if p in ("allUsers", "allAuthenticatedUsers") or ":" in p:
        return p
    return f"user:{p}" if "@" in p else f"group:{p}"
