"""Python SDK of the policy service: Anyscale's policy SDK shape (set, get, list and its models), IAM's
get/set/test, an etag-aware read-modify-write, every RPC, and typed errors."""
from .client import PolicyClient, Service
from .errors import (
    AlreadyExistsError, ConflictError, FailedPreconditionError, InvalidArgumentError, NotFoundError,
    PermissionDeniedError, PolicyServiceError, UnauthenticatedError, UnavailableError,
)
from .models import Policy, PolicyBinding, PolicyConfig, PolicySyncStatus, ResourcePolicy
from .estate import (
    ApplyAborted, Estate, EstateResource, EstateRole, EstateSharedPolicy, Plan, apply_plan, estate_files, export_subtree,
    plan_apply, read_estate, write_estate,
)

__all__ = [
    "PolicyClient", "Service", "Policy", "PolicyBinding", "PolicyConfig", "PolicySyncStatus", "ResourcePolicy",
    "PolicyServiceError", "InvalidArgumentError", "NotFoundError", "AlreadyExistsError", "ConflictError",
    "FailedPreconditionError", "UnauthenticatedError", "PermissionDeniedError", "UnavailableError",
    "Estate", "EstateResource", "EstateRole", "EstateSharedPolicy", "Plan", "ApplyAborted", "export_subtree",
    "estate_files", "write_estate", "read_estate", "plan_apply", "apply_plan",
]
