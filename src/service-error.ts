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

/** Characters of a request value an error message repeats; longer values are cut (the caller has them). */
export const MAX_ECHOED_LENGTH = 80;
/** Field violations one error reports; the message says how many more there were. */
export const MAX_REPORTED_VIOLATIONS = 10;

/** `value` quoted for an error message, cut to MAX_ECHOED_LENGTH: responses must not grow with the input. */
export function quoted(value: string): string {
  if (value.length <= MAX_ECHOED_LENGTH) return `"${value}"`;
  return `"${value.slice(0, MAX_ECHOED_LENGTH)}…" (${value.length} characters)`;
}

/** INVALID_ARGUMENT for one or more field violations; the message lists them (`omitted` more were not reported). */
export function invalidArgument(violations: readonly FieldViolation[], omitted = 0): ServiceError {
  const more = omitted > 0 ? [`and ${omitted} more problem${omitted === 1 ? "" : "s"}`] : [];
  const message = [...violations.map((v) => `${v.field}: ${v.description}`), ...more].join("; ");
  return new ServiceError("invalid_argument", message, violations);
}

/**
 * Collects field violations so that a request is told every problem at once, not one per attempt — up to
 * MAX_REPORTED_VIOLATIONS of them, so that 5,000 bad bindings do not make a 339 KB message.
 */
export class Violations {
  readonly list: FieldViolation[] = [];
  private omitted = 0;

  add(field: string, description: string): void {
    if (this.list.length < MAX_REPORTED_VIOLATIONS) this.list.push({ field, description });
    else this.omitted++;
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  throwIfAny(): void {
    if (!this.empty) throw invalidArgument(this.list, this.omitted);
  }
}

/** NOT_FOUND for a resource; the same words whether it is absent or hidden from the caller. */
export function notFound(name: string, what = "resource"): ServiceError {
  return new ServiceError("not_found", `${what} ${quoted(name)} not found; register it with ResourceService.CreateResource`);
}

/** ABORTED for a stale etag: the caller's read-modify-write must start again. */
export function staleEtag(what: "policy" | "resource" | "deny policy" | "role" | "shared policy"): ServiceError {
  return new ServiceError(
    "aborted",
    `the ${what} was changed by another writer since its etag was read; read it again, reapply your change and retry`,
  );
}
