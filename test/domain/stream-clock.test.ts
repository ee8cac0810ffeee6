// A Watch stream's clock: the progress interval is due when its timer rang since the stream last sent, and a wait is
// always woken by the next ring (a wait that starts after a ring must not be left with no timer).
import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { StreamStop } from "../../src/domain/stream-buffer.js";
import { StreamClock, type Advances } from "../../src/domain/stream-clock.js";

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

/** A feed that advances when told to: the wakes waiting now are called. */
function feed(): Advances & { advance(): void; waiting(): number } {
  let waiting = new Set<() => void>();
  return {
    whenAdvanced: (wake) => void waiting.add(wake),
    forget: (wake) => void waiting.delete(wake),
    advance() {
      const woken = waiting;
      waiting = new Set();
      for (const wake of woken) wake();
    },
    waiting: () => waiting.size,
  };
}

function settled(p: Promise<void>): { done: boolean } {
  const state = { done: false };
  void p.then(() => (state.done = true));
  return state;
}

test("the interval is due once the timer rings, and not again until it rings after the next send", async () => {
  const clock = new StreamClock(200, new StreamStop(), feed());
  await vi.advanceTimersByTimeAsync(199);
  expect(clock.due()).toBe(false);
  await vi.advanceTimersByTimeAsync(1);
  expect(clock.due()).toBe(true);
  clock.sent();
  expect(clock.due()).toBe(false);
  await vi.advanceTimersByTimeAsync(200);
  expect(clock.due()).toBe(true);
  clock.stop();
});

test("a wait begun after a ring that was not acted on is still woken when the interval passes after a send", async () => {
  const advances = feed();
  const clock = new StreamClock(200, new StreamStop(), advances);
  await vi.advanceTimersByTimeAsync(200);
  clock.sent();
  const first = settled(clock.wait());
  await vi.advanceTimersByTimeAsync(199);
  expect(first.done).toBe(false);
  await vi.advanceTimersByTimeAsync(1);
  expect(first.done).toBe(true);
  // Woken by the timer: the wait is no longer the feed's to wake.
  expect(advances.waiting()).toBe(0);
  // Nothing sent since: the interval stays due, and a new wait is woken by the feed, not left hanging on a spent timer.
  expect(clock.due()).toBe(true);
  const second = settled(clock.wait());
  await vi.advanceTimersByTimeAsync(0);
  expect(second.done).toBe(false);
  advances.advance();
  await vi.advanceTimersByTimeAsync(0);
  expect(second.done).toBe(true);
  clock.stop();
});

test("the stream stopping wakes a wait", async () => {
  const stop = new StreamStop();
  const advances = feed();
  const clock = new StreamClock(60_000, stop, advances);
  const waiting = settled(clock.wait());
  stop.stop();
  await vi.advanceTimersByTimeAsync(0);
  expect(waiting.done).toBe(true);
  expect(advances.waiting()).toBe(0);
  clock.stop();
});

test("a stopped clock leaves nothing with the feed and is not woken by it", async () => {
  const advances = feed();
  const clock = new StreamClock(60_000, new StreamStop(), advances);
  const waiting = settled(clock.wait());
  expect(advances.waiting()).toBe(1);
  clock.stop();
  expect(advances.waiting()).toBe(0);
  advances.advance();
  await vi.advanceTimersByTimeAsync(0);
  expect(waiting.done).toBe(false);
});
