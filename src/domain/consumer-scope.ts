// Which failures a consumer may report: those of resources in its scope — of one of its types (or it names none), and
// either in its subtree now (existing now, without a subtree), or the resource of the change-log row at the failure's
// sequence, with the subtree on that row's lineage before or after the change (a change Watch sent to that scope,
// such as a delete or a move out of it). Anything else is refused: a failure is stored, counted and shown to every
// reader of the resource's status, so it must be about what the consumer was given to apply.
import type { SyncFailure } from "../../gen/policy/v1/sync_service_pb.js";
import type { ChangeRecord, Store, StoredConsumer } from "../store/store.js";
import { coversType } from "./consumer-index.js";
import type { ResourceType } from "../schema/schema.js";

/**
 * The indexes of `failures` that are outside `consumer`'s scope, ascending. `typeOf` gives each failure's resource
 * type (the names are already checked). Costs a chain read per failure and one log read for those not in scope now.
 */
export async function failuresOutOfScope(
  store: Store,
  consumer: StoredConsumer,
  failures: readonly SyncFailure[],
  typeOf: (resource: string) => ResourceType,
): Promise<number[]> {
  const outside: number[] = [];
  const notNow: number[] = [];
  for (const [i, failure] of failures.entries()) {
    if (!coversType(consumer, typeOf(failure.resource).name)) outside.push(i);
    else if (!inSubtreeNow(consumer.subtree, await store.ancestry(failure.resource))) notNow.push(i);
  }
  if (notNow.length > 0) {
    const rows = await store.readChanges({ at: [...new Set(notNow.map((i) => Number(failures[i]!.sequence)))] });
    const bySeq = new Map(rows.map((row) => [row.seq, row]));
    for (const i of notNow) {
      const row = bySeq.get(Number(failures[i]!.sequence));
      if (!row || row.resource !== failures[i]!.resource || !inSubtreeThen(consumer.subtree, row)) outside.push(i);
    }
  }
  return outside.sort((a, b) => a - b);
}

function inSubtreeNow(subtree: string, chain: readonly { resource: { name: string } }[] | undefined): boolean {
  return chain !== undefined && (subtree === "" || chain.some((link) => link.resource.name === subtree));
}

function inSubtreeThen(subtree: string, row: ChangeRecord): boolean {
  return subtree === "" || row.lineage.includes(subtree) || (row.previousLineage?.includes(subtree) ?? false);
}
