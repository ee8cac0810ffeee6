// Our engine: the AccessIndex that CheckAccess answers from, loaded with one Policy per resource (what the store's
// snapshot feeds it). A decision parses the principal set (Subject.of, as every CheckAccess does) and checks one
// permission on the resource.
import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { AccessState } from "../../gen/policy/v1/access_service_pb.js";
import { BindingSchema, PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { AccessIndex } from "../../src/domain/access/access-index.js";
import { Subject } from "../../src/domain/access/subject.js";
import { parseSchema } from "../../src/domain/schema/schema-loader.js";
import type { ResourceSchema } from "../../src/domain/schema/schema.js";
import { Violations } from "../../src/errors.js";
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

export function buildOurs(stored: number, schema: ResourceSchema): Engine {
  const index = new AccessIndex(schema);
  walkModel(stored, {
    resource(name, parent, type, bindings) {
      index.putResource(name, parent, type);
      if (bindings.length === 0) return;
      index.setPolicy(
        name,
        create(PolicySchema, { version: 1, bindings: bindings.map((b) => create(BindingSchema, { role: b.role, members: b.members })) }),
      );
    },
    membership() {},
  });
  const attributes: ReadonlyMap<string, unknown> = new Map();
  const requestTime = timestampNow();
  return {
    label: "ours: AccessIndex.check",
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
      const result = index.check(p.resource, { subject, permissions: p.permissions, attributes, requestTime, explain: false });
      if (!result) throw new Error(`${p.resource} is not indexed`);
      return result[0]!.state === AccessState.GRANTED;
    },
  };
}
