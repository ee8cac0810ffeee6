// Our engine: checkChain, what CheckAccess runs on the resource's chain (the resource and its ancestors with their
// policies). In the server the chain comes from the store's cache of decoded policies; here from a Map of one
// StoredPolicy per resource, walked the same way. A decision parses the principal set (Subject.of, as every
// CheckAccess does), gathers the chain and checks one permission.
import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { AccessState } from "../../gen/policy/v1/access_service_pb.js";
import type { DenyPolicy } from "../../gen/policy/v1/deny_policy_pb.js";
import { BindingSchema, PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { ResourceSchema as ResourceMessage } from "../../gen/policy/v1/resource_pb.js";
import { checkChain } from "../../src/domain/access/chain-check.js";
import { Subject } from "../../src/domain/access/subject.js";
import { parseSchema } from "../../src/schema/schema-loader.js";
import type { ResourceSchema } from "../../src/schema/schema.js";
import { Violations } from "../../src/service-error.js";
import { deepFreeze } from "../../src/frozen-value.js";
import type { StoredPolicy } from "../../src/store/store.js";
import { walkModel, type Query } from "./dataset.js";
import type { Engine } from "./engine.js";

const SCHEMA_FILE = new URL("../access-schema.yaml", import.meta.url);

export function loadSchema(): ResourceSchema {
  return parseSchema(readFileSync(SCHEMA_FILE, "utf8"), "bench/access-schema.yaml");
}

interface Prepared {
  resource: string;
  principals: string[];
  permissions: string[];
}

/** `rootDeny`: a deny policy attached to every root (organization), as a guardrail would be. */
export function buildOurs(stored: number, schema: ResourceSchema, rootDeny?: DenyPolicy): Engine {
  const nodes = new Map<string, StoredPolicy>();
  const empty = create(PolicySchema, {});
  walkModel(stored, {
    resource(name, parent, type, bindings) {
      const policy =
        bindings.length === 0
          ? empty
          : create(PolicySchema, { version: 1, bindings: bindings.map((b) => create(BindingSchema, { role: b.role, members: b.members })) });
      // Shared, as the server's read cache shares what it holds (so compiled conditions are memoised alike).
      const deny = parent === "" ? rootDeny : undefined;
      nodes.set(name, deepFreeze({ resource: create(ResourceMessage, { name, parent, type }), createSeq: 0, policy, ...(deny ? { deny } : {}) }));
    },
    membership() {},
  });
  const chainOf = (name: string): StoredPolicy[] => {
    const chain: StoredPolicy[] = [];
    for (let link = nodes.get(name); link; link = nodes.get(link.resource.parent)) chain.push(link);
    return chain;
  };
  const attributes: ReadonlyMap<string, unknown> = new Map();
  const requestTime = timestampNow();
  return {
    label: rootDeny ? "ours: checkChain, deny rules at the root" : "ours: checkChain",
    prepare: (query: Query): Prepared => ({
      resource: query.chain[0]!.name,
      principals: [query.principal.user, ...query.principal.groups],
      permissions: [query.permission],
    }),
    decide(prepared) {
      const p = prepared as Prepared;
      const violations = new Violations();
      const subject = Subject.of(p.principals, violations, "principals");
      if (!violations.empty) throw new Error(`bad principals: ${JSON.stringify(violations.list)}`);
      const result = checkChain(schema, chainOf(p.resource), { subject, permissions: p.permissions, attributes, requestTime, explain: false });
      if (!result) throw new Error(`${p.resource} is not stored`);
      return result[0]!.state === AccessState.GRANTED;
    },
  };
}
