// Bounded, incrementally read consumers (issue 25): each consumer records the root of its subtree (the bound on
// consumers per organization counts by it) and its failures' count; every consumer write takes the next value of one
// clock (`consumer_clock.version`, with the version of the last delete), so a process that keeps the consumers in
// memory reads only those written since it last looked. No index of failures by resource: it would interleave every
// consumer's failures, so that filling or deleting one consumer rewrote every page of it (a status reads a resource's
// failures by primary key, for the consumers that cover it).
export const sql = `
ALTER TABLE consumers ADD COLUMN root TEXT NOT NULL DEFAULT '';
ALTER TABLE consumers ADD COLUMN failure_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE consumers ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

-- Consumers registered before: the root of their subtree now (the subtree itself when it no longer exists), their
-- failures counted, and all at version 1, which a reader that starts from 0 reads.
UPDATE consumers SET
  root = COALESCE(
    (SELECT a.name FROM resources r JOIN resources a
       ON a.id = CAST(substr(r.path, 2, instr(substr(r.path, 2), '/') - 1) AS INTEGER)
     WHERE r.name = consumers.subtree),
    subtree),
  failure_count = (SELECT COUNT(*) FROM consumer_failures f WHERE f.consumer = consumers.name),
  version = 1;

CREATE INDEX consumers_by_root ON consumers(root);
CREATE INDEX consumers_by_version ON consumers(version);

-- One row: the version of the newest consumer write, and of the newest delete.
CREATE TABLE consumer_clock (
  version INTEGER NOT NULL,
  last_delete INTEGER NOT NULL
) STRICT;
INSERT INTO consumer_clock (version, last_delete) VALUES (1, 0);
`;
