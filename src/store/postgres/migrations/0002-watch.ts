// What the Watch stream and sync consumers need, as in ../../sqlite/migrations/0002-watch.ts: each change-log row
// records its resource's type, parent and lineage at the time of the change, and a move its previous parent and
// lineage; consumers, their acknowledgements and their reported failures. Lineages and type lists are JSON text, as
// in SQLite, so both stores map rows with the same code (../../rows.ts).
export const sql = `
ALTER TABLE change_log
  ADD COLUMN resource_type text,
  ADD COLUMN parent text COLLATE "C",
  ADD COLUMN previous_parent text COLLATE "C",
  -- JSON arrays of names, from the resource up to its root: after the change, and (moves only) before it
  ADD COLUMN lineage text,
  ADD COLUMN previous_lineage text;

-- Rows written before this migration get their resource's type, parent and lineage as of now (when it still exists).
UPDATE change_log c SET
  resource_type = r.type,
  parent = COALESCE(p.name, ''),
  lineage = (SELECT json_agg(a.name ORDER BY length(a.path) DESC)::text FROM resources a
             WHERE a.id = ANY (string_to_array(trim(BOTH '/' FROM r.path), '/')::bigint[]))
FROM resources r LEFT JOIN resources p ON p.id = r.parent_id
WHERE r.name = c.resource;
UPDATE change_log SET resource_type = '', parent = '', lineage = json_build_array(resource)::text
WHERE resource_type IS NULL;
ALTER TABLE change_log
  ALTER COLUMN resource_type SET NOT NULL,
  ALTER COLUMN parent SET NOT NULL,
  ALTER COLUMN lineage SET NOT NULL;

CREATE TABLE consumers (
  name text COLLATE "C" PRIMARY KEY,
  display_name text NOT NULL,
  subtree text NOT NULL,
  -- JSON array of schema type names; [] for every type
  resource_types text NOT NULL,
  acknowledged_seq bigint NOT NULL DEFAULT 0,
  acknowledge_time bigint,
  create_time bigint NOT NULL
);

CREATE TABLE consumer_failures (
  consumer text COLLATE "C" NOT NULL REFERENCES consumers(name) ON DELETE CASCADE,
  resource text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  message text NOT NULL,
  time bigint NOT NULL,
  PRIMARY KEY (consumer, resource)
);
`;
