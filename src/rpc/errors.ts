// Maps every failure to a ConnectError: ServiceError to its gRPC code (field problems as a google.rpc.BadRequest
// detail), anything unexpected to INTERNAL with nothing secret in the message.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, BadRequest_FieldViolationSchema } from "../../gen/google/rpc/error_details_pb.js";
import { serviceErrorOf } from "../domain/store-errors.js";
import { ServiceError, type ErrorCode } from "../errors.js";
import { StoreError } from "../store/errors.js";

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
                fieldViolations: error.violations.map((v) => create(BadRequest_FieldViolationSchema, v)),
              }),
            },
          ];
    return new ConnectError(error.message, CODES[error.code], undefined, details);
  }
  if (error instanceof ConnectError) return error;
  unexpected(error);
  return new ConnectError("internal error; the server log has the details", Code.Internal);
}

/** The store failure behind `error` that an operator must look at (the database full or unavailable), if any. */
export function storeFailureOf(error: unknown): StoreError | undefined {
  const stored = error instanceof ServiceError ? error.cause : error;
  return stored instanceof StoreError && (stored.kind === "exhausted" || stored.kind === "unavailable") ? stored : undefined;
}
