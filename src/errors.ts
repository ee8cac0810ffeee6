// The one error type every layer throws for an expected failure. The RPC layer maps `code` to a gRPC status;
// anything else that escapes is an internal error.

export type ErrorCode =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "aborted"
  | "failed_precondition"
  /** A position outside the range that exists (a Watch resume from before the retained change log). */
  | "out_of_range"
  | "unauthenticated"
  | "permission_denied"
  | "unavailable"
  | "resource_exhausted";

/** A problem with one request field, reported as a google.rpc.BadRequest field violation. */
export interface FieldViolation {
  field: string;
  description: string;
}

export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly violations: readonly FieldViolation[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ServiceError";
  }
}

/** INVALID_ARGUMENT for one or more field violations; the message lists them all. */
export function invalidArgument(violations: readonly FieldViolation[]): ServiceError {
  const message = violations.map((v) => `${v.field}: ${v.description}`).join("; ");
  return new ServiceError("invalid_argument", message, violations);
}

/** Collects field violations so that a request is told every problem at once, not one per attempt. */
export class Violations {
  readonly list: FieldViolation[] = [];

  add(field: string, description: string): void {
    this.list.push({ field, description });
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  throwIfAny(): void {
    if (!this.empty) throw invalidArgument(this.list);
  }
}

/** NOT_FOUND for a resource; the same words whether it is absent or hidden from the caller. */
export function notFound(name: string, what = "resource"): ServiceError {
  return new ServiceError("not_found", `${what} "${name}" not found; register it with ResourceService.CreateResource`);
}

/** ABORTED for a stale etag: the caller's read-modify-write must start again. */
export function staleEtag(what: "policy" | "resource" | "deny policy" | "role"): ServiceError {
  return new ServiceError(
    "aborted",
    `the ${what} was changed by another writer since its etag was read; read it again, reapply your change and retry`,
  );
}
