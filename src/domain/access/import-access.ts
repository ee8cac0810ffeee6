// Per-item authorization of a bulk import, as the single writes would authorize each item: `{collection}.create` (and
// `.setPolicy` with a policy) on the item's anchor (import.ts, ItemAccess); a root needs an administrator. An anchor
// the caller may not see is NOT_FOUND, as for CreateResource. Items with the same anchor and permissions share one check.
import { ServiceError, notFound } from "../../service-error.js";
import type { ImportAuthorizer } from "../import.js";
import { readPermission } from "./read-permissions.js";
import type { Authorizer, Caller } from "./authorizer.js";

export function importAuthorizer(authorizer: Authorizer, caller: Caller): ImportAuthorizer {
  return async (accesses) => {
    if (authorizer.isUnrestricted(caller)) return accesses.map(() => undefined);
    const checks = new Map<string, Promise<boolean[]>>();
    return Promise.all(
      accesses.map(async ({ anchor, permissions }) => {
        if (anchor === "") return new ServiceError("permission_denied", "only the server's administrators may create a root resource");
        const key = `${anchor}\u0000${permissions.join(",")}`;
        let check = checks.get(key);
        if (!check) {
          check = authorizer.holdsOn(caller, anchor, [readPermission(anchor, "resource"), ...permissions]);
          checks.set(key, check);
        }
        const [sees, ...held] = await check;
        if (!sees) return notFound(anchor, "parent resource");
        const missing = permissions.find((_, i) => !held[i]);
        if (missing === undefined) return undefined;
        return new ServiceError(
          "permission_denied",
          `${caller.principal} lacks permission "${missing}" on "${anchor}"; ask an owner of it or of an ancestor for a role that grants it`,
        );
      }),
    );
  };
}
