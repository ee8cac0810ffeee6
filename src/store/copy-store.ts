// A whole store copied into another through the contract (`npm run migrate-store`): any store to any store, SQLite or
// PostgreSQL either way or to its own kind. The source's snapshot is exported a page at a time (one sequence: every
// page reads the same state, whatever is committed meanwhile) and imported into the target in one transaction, so
// memory stays bounded by a page. Then the target is exported in turn and compared with what was read: per sort of
// record, the count and a digest of every record (every etag, sequence, body, cursor and consumer's progress).
import { createHash } from "node:crypto";
import type { ExportPage, Store, StoreRecord, StoreSnapshot } from "./store.js";

/** Records per export page. */
const PAGE = 5000;

/** What a copy did: the sequence it copied the source at, and the records copied by sort. */
export interface CopyReport {
  sequence: number;
  counts: Record<string, number>;
  /** Seconds spent copying (export and import) and verifying (the copy's export). */
  seconds: { copy: number; verify: number };
}

/**
 * Copies `source` into `target`, which must be empty (the import refuses a store that holds resources, changes or
 * consumers), then verifies the copy, reading `pageSize` records at a time. The target is to be closed afterwards
 * (Store.importRecords).
 */
export async function copyStore(source: Store, target: Store, pageSize = PAGE): Promise<CopyReport> {
  const started = performance.now();
  const snapshot = await source.openSnapshot();
  const read = new Digest();
  try {
    await target.importRecords(pages(snapshot, read, pageSize));
  } finally {
    await snapshot.close();
  }
  const copied = performance.now();
  const copy = await target.openSnapshot();
  const written = new Digest();
  try {
    for await (const _ of pages(copy, written, pageSize));
  } finally {
    await copy.close();
  }
  const difference = read.difference(written);
  if (difference) throw new Error(`verification failed: ${difference}`);
  const seconds = { copy: (copied - started) / 1000, verify: (performance.now() - copied) / 1000 };
  return { sequence: snapshot.sequence, counts: read.counts(), seconds };
}

/**
 * The snapshot's export, page by page, each added to `digest` as it is read. The next page is read while the
 * consumer writes this one (on the next turn of the event loop: a SQLite read, synchronous, then runs while the
 * target's database works on the write), so reading and writing overlap: two pages in memory at most.
 */
async function* pages(snapshot: StoreSnapshot, digest: Digest, pageSize: number): AsyncGenerator<readonly StoreRecord[]> {
  const read = async (after: string | undefined) => {
    await new Promise((resolve) => setImmediate(resolve));
    const page = await snapshot.exportRecords(after, pageSize);
    digest.add(page.records);
    return page;
  };
  let next: Promise<ExportPage> | undefined = read(undefined);
  while (next) {
    const page: ExportPage = await next;
    next = page.next === undefined ? undefined : read(page.next);
    // A read that fails while the consumer still writes is reported when it is awaited, not as unhandled.
    next?.catch(() => undefined);
    yield page.records;
  }
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
