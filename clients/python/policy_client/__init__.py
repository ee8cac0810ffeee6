"""Python SDK of the policy service: Anyscale's policy SDK shape (set, get, list and its models), IAM's
get/set/test, an etag-aware read-modify-write, every RPC, and typed errors."""
from .client import PolicyClient, Service
from .errors import (
    AlreadyExistsError, ConflictError, FailedPreconditionError, InvalidArgumentError, NotFoundError,
    PermissionDeniedError, PolicyServiceError, UnauthenticatedError, UnavailableError,
)
from .models import Policy, PolicyBinding, PolicyConfig, PolicySyncStatus, ResourcePolicy

__all__ = [
    "PolicyClient", "Service", "Policy", "PolicyBinding", "PolicyConfig", "PolicySyncStatus", "ResourcePolicy",
    "PolicyServiceError", "InvalidArgumentError", "NotFoundError", "AlreadyExistsError", "ConflictError",
    "FailedPreconditionError", "UnauthenticatedError", "PermissionDeniedError", "UnavailableError",
]
