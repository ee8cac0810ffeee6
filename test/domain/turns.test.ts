// Long checks take turns with other calls (src/domain/turns.ts): a synchronous store must not let one check of many
// resources hold the event loop from start to end.
import { expect, test } from "vitest";
import { TURN_SIZE, inTurns } from "../../src/domain/turns.js";

test("work over many items lets waiting calls run between turns, and keeps the results in order", async () => {
  const items = Array.from({ length: TURN_SIZE * 2 + 1 }, (_, i) => i);
  let otherCallRan = false;
  setImmediate(() => (otherCallRan = true));
  const seenByTurn: boolean[] = [];
  const results = await inTurns(items, async (item) => {
    if (item % TURN_SIZE === 0) seenByTurn.push(otherCallRan);
    return item * 2;
  });
  expect(results).toEqual(items.map((i) => i * 2));
  // The first turn runs at once; the other call runs before the second.
  expect(seenByTurn).toEqual([false, true, true]);
});
