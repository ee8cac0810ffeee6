// node-casbin on the same model: RBAC with domains, the domain (resource) hierarchy in g2.
//
//   p  = sub, dom, role    one row per member of a binding: `member` has `role` on resource `dom`
//   g  = user -> group     group membership (casbin stores it; it cannot take a group set in the request)
//   g2 = resource -> parent, so a row on an ancestor domain applies below it (transitive, up to 10 levels)
//   g3 = permission -> "type:role", the schema's roles (a role's permissions depend on the type it is granted on)
//
// Loaded from memory by newEnforcer(model, adapter) with RowAdapter below: casbin's StringAdapter does the same but
// parses every line as CSV, which is 95% of its load time (15 s at 100k bindings), and Enforcer.addPolicies compares
// every new row with every stored one (quadratic). Decisions use enforceSync(), the synchronous form of enforce(): the
// same matcher and effect without a promise per policy row, so the faster of the two (both are checked to agree).
import { newEnforcer, newModelFromString, type Adapter, type Enforcer, type Model } from "casbin";
import type { ResourceSchema } from "../../src/schema/schema.js";
import { walkModel, type Query } from "./dataset.js";
import type { Engine } from "./engine.js";

export const CASBIN_MODEL = `
[request_definition]
r = sub, dom, act

[policy_definition]
p = sub, dom, role

[role_definition]
g = _, _
g2 = _, _
g3 = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && g2(r.dom, p.dom) && g3(r.act, p.role)
`;

/**
 * Loads rows that are already split into fields, as casbin's own line loader stores them once it has parsed a CSV line
 * (appended to the assertion's `policy`); read-only, like StringAdapter.
 */
class RowAdapter implements Adapter {
  constructor(private rows: [ptype: string, ...fields: string[]][]) {}

  async loadPolicy(model: Model): Promise<void> {
    for (const [ptype, ...fields] of this.rows) {
      const assertion = model.model.get(ptype.slice(0, 1))?.get(ptype);
      if (!assertion) throw new Error(`the model has no ${ptype}`);
      assertion.policy.push(fields);
    }
    this.rows = [];
  }
  async savePolicy(): Promise<boolean> {
    throw new Error("not implemented");
  }
  async addPolicy(): Promise<void> {
    throw new Error("not implemented");
  }
  async removePolicy(): Promise<void> {
    throw new Error("not implemented");
  }
  async removeFilteredPolicy(): Promise<void> {
    throw new Error("not implemented");
  }
}

export async function buildCasbin(stored: number, schema: ResourceSchema): Promise<{ engine: Engine; enforcer: Enforcer }> {
  const rows: [string, ...string[]][] = [];
  for (const type of schema.types.values()) {
    for (const role of type.roles.values()) for (const permission of role.permissions) rows.push(["g3", permission, `${type.name}:${role.name}`]);
  }
  walkModel(stored, {
    resource(name, parent, type, bindings) {
      if (parent !== "") rows.push(["g2", name, parent]);
      for (const b of bindings) for (const m of b.members) rows.push(["p", m, name, `${type}:${b.role}`]);
    },
    membership(user, group) {
      rows.push(["g", user, group]);
    },
  });
  const enforcer = await newEnforcer(newModelFromString(CASBIN_MODEL), new RowAdapter(rows));
  return {
    enforcer,
    engine: {
      label: "casbin: enforceSync",
      prepare: (query: Query) => [query.principal.user, query.chain[0]!.name, query.permission],
      decide(prepared) {
        const [sub, dom, act] = prepared as [string, string, string];
        return enforcer.enforceSync(sub, dom, act);
      },
    },
  };
}
