// Maps every failure to a ConnectError: ServiceError to its gRPC code (field problems as a google.rpc.BadRequest
// detail), anything unexpected to INTERNAL with nothing secret in the message.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, BadRequest_FieldViolationSchema } from "../../gen/google/rpc/error_details_pb.js";
import { serviceErrorOf } from "../domain/store-errors.js";
import { ServiceError, type ErrorCode } from "../service-error.js";
import { StoreError } from "../store/store-error.js";

const CODES: Record<ErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  aborted: Code.Aborted,
  failed_precondition: Code.FailedPrecondition,
  out_of_range: Code.OutOfRange,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  unavailable: Code.Unavailable,
  resource_exhausted: Code.ResourceExhausted,
};

/**
 * Bytes (UTF-8) of an error message sent. The message travels in the `grpc-message` header (percent-encoded, so up to
 * three times this) and clients commonly refuse headers over 8 KB (grpc-go's default limit is 16 KB in all).
 */
export const MAX_MESSAGE_BYTES = 1024;
/** Characters of the field violations sent as details (`grpc-status-details-bin`, base64: a third more). */
export const MAX_DETAILS_CHARS = 2048;

/** The ConnectError to send for `error`; `unexpected` is called for an error that is not a known failure. */
export function toConnectError(error: unknown, unexpected: (error: unknown) => void): ConnectError {
  // A read's store error reaches here unmapped (writes map theirs with the request's words): map it the same way.
  if (error instanceof StoreError) error = serviceErrorOf(error);
  if (error instanceof ServiceError) {
    const details =
      error.violations.length === 0
        ? []
        : [
            {
              desc: BadRequestSchema,
              value: create(BadRequestSchema, {
                fieldViolations: boundedViolations(error.violations).map((v) => create(BadRequest_FieldViolationSchema, v)),
              }),
            },
          ];
    return new ConnectError(clip(error.message, MAX_MESSAGE_BYTES), CODES[error.code], undefined, details);
  }
  if (error instanceof ConnectError) {
    const message = clip(error.rawMessage, MAX_MESSAGE_BYTES);
    if (message === error.rawMessage) return error;
    const clipped = new ConnectError(message, error.code, error.metadata, undefined, error.cause);
    clipped.details = error.details;
    return clipped;
  }
  unexpected(error);
  return new ConnectError("internal error; the server log has the details", Code.Internal);
}

/** The store failure behind `error` that an operator must look at (the database full or unavailable), if any. */
export function storeFailureOf(error: unknown): StoreError | undefined {
  const stored = error instanceof ServiceError ? error.cause : error;
  return stored instanceof StoreError && (stored.kind === "exhausted" || stored.kind === "unavailable") ? stored : undefined;
}

/** `text` cut to at most `maxBytes` of UTF-8, marked as cut. */
function clip(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, "utf8") <= maxBytes) return text;
  let cut = text.slice(0, maxBytes);
  while (Buffer.byteLength(cut, "utf8") > maxBytes - 4) cut = cut.slice(0, -16);
  return `${cut} […]`;
}

/** As many violations as fit in MAX_DETAILS_CHARS, each one cut to a fair share. */
function boundedViolations(violations: readonly { field: string; description: string }[]): { field: string; description: string }[] {
  const bounded: { field: string; description: string }[] = [];
  let total = 0;
  for (const v of violations) {
    const field = clip(v.field, 200);
    const description = clip(v.description, 400);
    total += field.length + description.length;
    if (total > MAX_DETAILS_CHARS) break;
    bounded.push({ field, description });
  }
  return bounded;
}
