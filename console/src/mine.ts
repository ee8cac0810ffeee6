// "My resources": what the signed-in caller may see, found with LookupResources (what-can) about the caller's own
// principals — so a project owner finds its project without knowing its name.
import type { Resource } from "../../gen/policy/v1/resource_pb.js";
import { READ_VERB } from "../../src/domain/access/read-permissions.js";
import { api } from "./api.js";
import type { Schema } from "./schema.js";

/** At most this many resources of each type are listed (one LookupResources page each). */
export const MINE_PER_TYPE = 200;

export async function myResources(schema: Schema, identities: readonly string[]): Promise<Resource[]> {
  const perType = await Promise.all(
    schema.types
      .map((t) => ({ type: t, permission: `${t.collection}.${READ_VERB.resource}` }))
      .filter(({ permission }) => schema.knows(permission))
      .map(({ type, permission }) =>
        api.access
          .lookupResources({ principals: [...identities], permission, resourceType: type.name, pageSize: MINE_PER_TYPE })
          .then((res) => res.resources.map((r) => r.resource))
          .catch(() => [] as string[]),
      ),
  );
  const names = perType.flat();
  const resources = await Promise.all(names.map((name) => api.resources.getResource({ name }).catch(() => undefined)));
  return resources.filter((r): r is Resource => r !== undefined);
}
