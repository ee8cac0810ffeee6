"""Typed errors: every failed call raises a PolicyServiceError subclass chosen by its gRPC status code.

Field problems (INVALID_ARGUMENT) carry the server's google.rpc.BadRequest as ``field_violations``: a list of
``(field, description)`` pairs.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import grpc


class PolicyServiceError(Exception):
    """A call failed. ``code`` is the grpc.StatusCode; ``message`` the server's message."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, *, code: Optional[grpc.StatusCode] = None,
                 field_violations: Optional[List[Tuple[str, str]]] = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field_violations = field_violations or []

    def __str__(self) -> str:
        if not self.field_violations:
            return f"{self.code.name}: {self.message}"
        # The server's message joins the same violations with "; ": list each once, one a line, and keep what the
        # message says beyond them ("and 3 more problems").
        rest = self.message
        for field, description in self.field_violations:
            rest = rest.replace(f"{field}: {description}", "", 1)
        rest = [part.strip() for part in rest.split(";") if part.strip()]
        count = len(self.field_violations)
        lines = [f"{self.code.name}: {'a problem' if count == 1 else f'{count} problems'} in the request:"]
        lines += [f"  {field}: {description}" for field, description in self.field_violations]
        lines += [f"  {part}" for part in rest]
        return "\n".join(lines)


class InvalidArgumentError(PolicyServiceError):
    """Bad input: names, members, roles, versions, conditions. See ``field_violations``."""
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFoundError(PolicyServiceError):
    """An unregistered resource (or one the caller may not see)."""
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExistsError(PolicyServiceError):
    """Creating a resource whose name is taken."""
    code = grpc.StatusCode.ALREADY_EXISTS


class ConflictError(PolicyServiceError):
    """ABORTED: a stale etag. Read again, reapply the change, retry (``PolicyClient.modify_policy`` does)."""
    code = grpc.StatusCode.ABORTED


class FailedPreconditionError(PolicyServiceError):
    """Valid but not now: e.g. deleting a resource with children without cascade."""
    code = grpc.StatusCode.FAILED_PRECONDITION


class UnauthenticatedError(PolicyServiceError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDeniedError(PolicyServiceError):
    code = grpc.StatusCode.PERMISSION_DENIED


class UnavailableError(PolicyServiceError):
    """The server could not be reached (or its store is down): retry later."""
    code = grpc.StatusCode.UNAVAILABLE


_BY_CODE = {cls.code: cls for cls in (
    InvalidArgumentError, NotFoundError, AlreadyExistsError, ConflictError, FailedPreconditionError,
    UnauthenticatedError, PermissionDeniedError, UnavailableError,
)}


def _field_violations(error: grpc.RpcError) -> List[Tuple[str, str]]:
    # The google.rpc.Status travels in the grpc-status-details-bin trailer; its details hold the BadRequest.
    from google.rpc import error_details_pb2, status_pb2

    for key, value in (error.trailing_metadata() or ()):
        if key != "grpc-status-details-bin":
            continue
        violations = []
        for detail in status_pb2.Status.FromString(value).details:
            bad_request = error_details_pb2.BadRequest()
            if detail.Unpack(bad_request):
                violations += [(v.field, v.description) for v in bad_request.field_violations]
        return violations
    return []


def from_rpc_error(error: grpc.RpcError) -> PolicyServiceError:
    """The typed error for a failed gRPC call."""
    code = error.code() if callable(getattr(error, "code", None)) else grpc.StatusCode.UNKNOWN
    message = error.details() if callable(getattr(error, "details", None)) else str(error)
    cls = _BY_CODE.get(code, PolicyServiceError)
    return cls(message or code.name, code=code, field_violations=_field_violations(error))
