// Plain store errors: what went wrong in storage terms, with no request field, RPC method or hint in them. The domain
// maps them to ServiceErrors (see domain/store-errors.ts), as OpenFGA's storage errors are mapped above the storage.

export type StoreErrorKind =
  /** A named resource does not exist. */
  | "not_found"
  /** A resource of that name exists already. */
  | "already_exists"
  /** The database cannot be reached or refused the work for now; the same call may succeed later. */
  | "unavailable"
  /** The database is out of space (a full disk or quota): writes fail until an operator frees some. */
  | "exhausted";

export class StoreError extends Error {
  constructor(
    readonly kind: StoreErrorKind,
    /** The resource name the error is about, when there is one. */
    readonly subject: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StoreError";
  }
}

export const resourceNotFound = (name: string) => new StoreError("not_found", name, `no resource "${name}"`);

export const resourceExists = (name: string) => new StoreError("already_exists", name, `resource "${name}" exists`);

export const consumerNotFound = (name: string) => new StoreError("not_found", name, `no consumer "${name}"`);

export const consumerExists = (name: string) => new StoreError("already_exists", name, `consumer "${name}" exists`);
