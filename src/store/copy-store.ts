// A whole store copied into another through the contract (`npm run migrate-store`): any store to any store, SQLite or
// PostgreSQL either way or to its own kind. The source's snapshot is exported a page at a time (one sequence: every
// page reads the same state, whatever is committed meanwhile) and imported into the target in one transaction, so
// memory stays bounded by a page. Then the target is exported in turn and compared with what was read: per sort of
// record, the count and a digest of every record (every etag, sequence, body, cursor and consumer's progress).
import { createHash } from "node:crypto";
import type { Store, StoreRecord, StoreSnapshot } from "./store.js";

/** Records per export page. */
const PAGE = 2000;

/** What a copy did: the sequence it copied the source at, and the records copied by sort. */
export interface CopyReport {
  sequence: number;
  counts: Record<string, number>;
}

/**
 * Copies `source` into `target`, which must be empty (the import refuses a store that holds resources, changes or
 * consumers), then verifies the copy, reading `pageSize` records at a time. The target is to be closed afterwards
 * (Store.importRecords).
 */
export async function copyStore(source: Store, target: Store, pageSize = PAGE): Promise<CopyReport> {
  const snapshot = await source.openSnapshot();
  const read = new Digest();
  try {
    await target.importRecords(pages(snapshot, read, pageSize));
  } finally {
    await snapshot.close();
  }
  const copy = await target.openSnapshot();
  const written = new Digest();
  try {
    for await (const _ of pages(copy, written, pageSize));
  } finally {
    await copy.close();
  }
  const difference = read.difference(written);
  if (difference) throw new Error(`verification failed: ${difference}`);
  return { sequence: snapshot.sequence, counts: read.counts() };
}

/** The snapshot's export, page by page, each added to `digest` as it is read. */
async function* pages(snapshot: StoreSnapshot, digest: Digest, pageSize: number): AsyncGenerator<readonly StoreRecord[]> {
  let after: string | undefined;
  do {
    const page = await snapshot.exportRecords(after, pageSize);
    digest.add(page.records);
    yield page.records;
    after = page.next;
  } while (after !== undefined);
}

/** A record's sort, as the report counts it: its kind of row, a document's kind, a grant's side. */
function sortOf(record: StoreRecord): string {
  if ("document" in record) return `document ${record.document.kind}`;
  if ("grant" in record) return record.grant.document ? "grant (document)" : "grant (policy)";
  return Object.keys(record)[0]!;
}

/** Bytes as hex, so that a record's serialization is the same whatever array type a driver returned. */
function serialize(record: StoreRecord): string {
  return JSON.stringify(record, function (this: Record<string, unknown>, key, value: unknown) {
    const raw = this[key];
    return raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("hex") : value;
  });
}

/**
 * Per sort, the count and the XOR of every record's SHA-256: independent of the order records are read in (the two
 * databases may order text keys differently), and any record missing, added or changed shows.
 */
class Digest {
  private readonly sorts = new Map<string, { count: number; xor: Buffer }>();

  add(records: readonly StoreRecord[]): void {
    for (const record of records) {
      const sort = sortOf(record);
      let entry = this.sorts.get(sort);
      if (!entry) this.sorts.set(sort, (entry = { count: 0, xor: Buffer.alloc(32) }));
      entry.count++;
      const hash = createHash("sha256").update(serialize(record)).digest();
      for (let i = 0; i < 32; i++) entry.xor[i] = entry.xor[i]! ^ hash[i]!;
    }
  }

  counts(): Record<string, number> {
    return Object.fromEntries([...this.sorts].map(([sort, { count }]) => [sort, count]));
  }

  /** What differs from `other`, in words; undefined when nothing does. */
  difference(other: Digest): string | undefined {
    for (const sort of new Set([...this.sorts.keys(), ...other.sorts.keys()])) {
      const mine = this.sorts.get(sort);
      const theirs = other.sorts.get(sort);
      if (mine?.count !== theirs?.count) return `${sort}: ${theirs?.count ?? 0} records in the copy, ${mine?.count ?? 0} in the source`;
      if (!mine!.xor.equals(theirs!.xor)) return `${sort}: the copy's records differ from the source's (same count)`;
    }
    return undefined;
  }
}
