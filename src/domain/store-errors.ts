// Store errors as the caller sees them: the store says what is missing or taken, in storage terms; here that becomes
// a ServiceError with the request's words and a hint of what to do.
import { ServiceError, notFound } from "../service-error.js";
import { StoreError } from "../store/store-error.js";

/** `work`'s result, or its StoreError as a ServiceError; `parent` is the name a write was given as a parent. */
export async function fromStore<T>(work: Promise<T>, parent?: string): Promise<T> {
  try {
    return await work;
  } catch (e) {
    throw e instanceof StoreError ? serviceErrorOf(e, parent) : e;
  }
}

/** A StoreError as the caller sees it; `parent` is the name a write was given as a parent, if any. */
export function serviceErrorOf(error: StoreError, parent?: string): ServiceError {
  switch (error.kind) {
    case "not_found":
      return notFound(error.subject, error.subject === parent ? "parent resource" : "resource");
    case "already_exists":
      return new ServiceError("already_exists", `resource "${error.subject}" already exists`);
    // The store error stays the cause: the call log and metrics name what the operator must fix.
    case "unavailable":
      return new ServiceError("unavailable", "the database is unavailable; retry shortly", [], { cause: error });
    case "exhausted":
      return new ServiceError(
        "resource_exhausted",
        "the database is out of disk space; nothing was written; retry after an operator frees space",
        [],
        { cause: error },
      );
  }
}
