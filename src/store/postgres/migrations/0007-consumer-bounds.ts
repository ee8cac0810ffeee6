// Bounded, incrementally read consumers, as in ../../sqlite/migrations/0007-consumer-bounds.ts: each consumer's
// root and failure count, a version per consumer write from one clock (and no index of failures by resource).
export const sql = `
ALTER TABLE consumers
  ADD COLUMN root text COLLATE "C" NOT NULL DEFAULT '',
  ADD COLUMN failure_count integer NOT NULL DEFAULT 0,
  ADD COLUMN version bigint NOT NULL DEFAULT 0;

UPDATE consumers c SET
  root = COALESCE(
    (SELECT a.name FROM resources r JOIN resources a ON a.id = split_part(trim(both '/' from r.path), '/', 1)::bigint
     WHERE r.name = c.subtree),
    c.subtree),
  failure_count = (SELECT count(*) FROM consumer_failures f WHERE f.consumer = c.name),
  version = 1;

CREATE INDEX consumers_by_root ON consumers(root);
CREATE INDEX consumers_by_version ON consumers(version);

CREATE TABLE consumer_clock (
  version bigint NOT NULL,
  last_delete bigint NOT NULL
);
INSERT INTO consumer_clock (version, last_delete) VALUES (1, 0);
`;
