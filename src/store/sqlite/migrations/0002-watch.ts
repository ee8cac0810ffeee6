// What the Watch stream and sync consumers need: each change-log row records its resource's type, parent and lineage
// at the time of the change (a deleted resource can still be filtered by subtree and authorized), and a move its
// previous parent and lineage; consumers, their acknowledgements and their reported failures.
export const sql = `
ALTER TABLE change_log ADD COLUMN resource_type TEXT;
ALTER TABLE change_log ADD COLUMN parent TEXT;
ALTER TABLE change_log ADD COLUMN previous_parent TEXT;
-- JSON arrays of names, from the resource up to its root: after the change, and (moves only) before it
ALTER TABLE change_log ADD COLUMN lineage TEXT;
ALTER TABLE change_log ADD COLUMN previous_lineage TEXT;

-- Rows written before this migration get their resource's type, parent and lineage as of now (when it still exists).
UPDATE change_log SET
  resource_type = (SELECT type FROM resources r WHERE r.name = change_log.resource),
  parent = (SELECT COALESCE(p.name, '') FROM resources r LEFT JOIN resources p ON p.id = r.parent_id
            WHERE r.name = change_log.resource),
  lineage = (SELECT json_group_array(name) FROM (
    SELECT a.name FROM resources a WHERE a.id IN (SELECT value FROM json_each(
      '[' || replace(trim((SELECT path FROM resources WHERE name = change_log.resource), '/'), '/', ',') || ']'))
    ORDER BY length(a.path) DESC));
UPDATE change_log SET resource_type = '', parent = '', lineage = json_array(resource) WHERE resource_type IS NULL;

CREATE TABLE consumers (
  name TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  subtree TEXT NOT NULL,
  -- JSON array of schema type names; [] for every type
  resource_types TEXT NOT NULL,
  acknowledged_seq INTEGER NOT NULL DEFAULT 0,
  acknowledge_time INTEGER,
  create_time INTEGER NOT NULL
) STRICT;

CREATE TABLE consumer_failures (
  consumer TEXT NOT NULL REFERENCES consumers(name) ON DELETE CASCADE,
  resource TEXT NOT NULL,
  seq INTEGER NOT NULL,
  message TEXT NOT NULL,
  time INTEGER NOT NULL,
  PRIMARY KEY (consumer, resource)
) STRICT;
`;
