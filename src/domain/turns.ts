// Long checks over many resources take turns with other calls. The SQLite store answers reads synchronously, so
// without a turn boundary a check of a thousand chains holds the event loop, and every other tenant's calls, until
// it ends.

/** Resources a long check reads before it lets other calls run. */
export const TURN_SIZE = 32;

/** Resolves after the calls waiting now have had their turn. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** `work` applied to `items` in turns of TURN_SIZE (concurrently within a turn), the results in order. */
export async function inTurns<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += TURN_SIZE) {
    if (start > 0) await nextTurn();
    results.push(...(await Promise.all(items.slice(start, start + TURN_SIZE).map(work))));
  }
  return results;
}
