// Writes a large generated hierarchy straight into a migrated SQLite file, row for row as the store writes it (ids,
// materialised paths, change-log sequences behind every etag, canonical policy bytes), in one transaction.
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type Sqlite from "better-sqlite3";
import { PolicySchema, type Binding } from "../../gen/policy/v1/policy_pb.js";
import { ResourceSchema } from "../../gen/policy/v1/resource_pb.js";
import { resourceEtag, revisionEtag } from "../../src/etag.js";
import { COLLECTION, type FolderSchemaType } from "./support.js";

export interface GeneratedResource {
  id: number;
  name: string;
  type: FolderSchemaType;
  /** 1 for an organization (a root) */
  level: number;
  /** index among the resources of its level */
  index: number;
  parent: GeneratedResource | undefined;
  /** '/1/5/17/': ids from the root down */
  path: string;
  /** The change-log sequence of its creation: its etag, and its empty policy's. */
  createSeq: number;
}

export interface GeneratedHierarchy {
  /** The resources of each level, level 1 first. */
  levels: GeneratedResource[][];
  byName: Map<string, GeneratedResource>;
  /** The bindings of every policy row written, keyed by resource name (an empty list: a row with no binding). */
  policies: Map<string, Binding[]>;
}

/** The type of the resources of `level` in a hierarchy `depth` levels deep: organizations, folders, then projects. */
function typeAt(level: number, depth: number): FolderSchemaType {
  return level === 1 ? "organization" : level === depth ? "project" : "folder";
}

/** `resource` and its ancestors, from it up to the root. */
export function chainOf(resource: GeneratedResource): GeneratedResource[] {
  const chain: GeneratedResource[] = [];
  for (let at: GeneratedResource | undefined = resource; at; at = at.parent) chain.push(at);
  return chain;
}

/**
 * Generates `levelSizes[i]` resources at level i + 1, each level's resources spread in contiguous blocks over the
 * level above, and the policies `policyOf` gives (undefined: no policy row; it is called once every resource exists),
 * into the migrated database `db`.
 */
export function generateHierarchy(
  db: Sqlite.Database,
  levelSizes: readonly number[],
  policyOf: (resource: GeneratedResource, levels: readonly GeneratedResource[][]) => Binding[] | undefined,
): GeneratedHierarchy {
  const time = Date.now();
  const insertResource = db.prepare(
    `INSERT INTO resources (id, name, parent_id, path, type, display_name, create_seq, revision, create_time, update_time)
     VALUES (@id, @name, @parentId, @path, @type, '', @seq, @seq, @time, @time)`,
  );
  const insertPolicy = db.prepare(
    `INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time)
     VALUES (@id, 'policy', '', @policy, @bindingCount, @seq, @time)`,
  );
  const logChange = db.prepare(
    `INSERT INTO change_log (seq, time, principal, action, resource, etag_before, etag_after, change)
     VALUES (@seq, @time, 'test:generator', @action, @resource, @etagBefore, @etagAfter, @change)`,
  );

  const hierarchy: GeneratedHierarchy = { levels: [], byName: new Map(), policies: new Map() };
  db.transaction(() => {
    let id = (db.prepare("SELECT COALESCE(MAX(id), 0) FROM resources").pluck().get() as number) + 1;
    let seq = (db.prepare("SELECT COALESCE(MAX(seq), 0) FROM change_log").pluck().get() as number) + 1;
    const created: GeneratedResource[] = [];

    levelSizes.forEach((size, i) => {
      const level = i + 1;
      const type = typeAt(level, levelSizes.length);
      const above = hierarchy.levels[i - 1];
      const resources: GeneratedResource[] = [];
      for (let index = 0; index < size; index++) {
        const parent = above?.[Math.floor((index * above.length) / size)];
        const name = `${COLLECTION[type]}/l${level}-${index}`;
        const resource: GeneratedResource = { id: id++, name, type, level, index, parent, path: "", createSeq: seq };
        resource.path = `${parent?.path ?? "/"}${resource.id}/`;
        // As SqliteStore.createResource: the resource row, then its change-log row holding the Resource's bytes.
        insertResource.run({ id: resource.id, name, parentId: parent?.id ?? null, path: resource.path, type, seq, time });
        const state = create(ResourceSchema, {
          name,
          parent: parent?.name ?? "",
          type,
          etag: resourceEtag(seq),
          createTime: timestampFromMs(time),
          updateTime: timestampFromMs(time),
        });
        logChange.run({
          seq,
          time,
          action: "resource.create",
          resource: name,
          etagBefore: null,
          etagAfter: revisionEtag(seq),
          change: toBinary(ResourceSchema, state),
        });
        created.push(resource);
        resources.push(resource);
        hierarchy.byName.set(name, resource);
        seq++;
      }
      hierarchy.levels.push(resources);
    });

    // As SqliteStore.putPolicy: canonical bytes without etag; the etag before is the empty policy's (the create's).
    for (const resource of created) {
      const bindings = policyOf(resource, hierarchy.levels);
      if (bindings === undefined) continue;
      const policy = toBinary(PolicySchema, create(PolicySchema, { version: 1, bindings }));
      insertPolicy.run({ id: resource.id, policy, bindingCount: bindings.length, seq, time });
      logChange.run({
        seq,
        time,
        action: "policy.set",
        resource: resource.name,
        etagBefore: revisionEtag(resource.createSeq),
        etagAfter: revisionEtag(seq),
        change: policy,
      });
      hierarchy.policies.set(resource.name, bindings);
      seq++;
    }
  }).immediate();
  return hierarchy;
}
