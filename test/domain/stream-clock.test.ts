// A Watch stream's clock: the progress interval is due when its timer rang since the stream last sent, and a wait is
// always woken by the next ring (a wait that starts after a ring must not be left with no timer).
import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { StreamClock } from "../../src/domain/stream-clock.js";

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

const never = new Promise<void>(() => {});

function settled(p: Promise<void>): { done: boolean } {
  const state = { done: false };
  void p.then(() => (state.done = true));
  return state;
}

test("the interval is due once the timer rings, and not again until it rings after the next send", async () => {
  const clock = new StreamClock(200, new AbortController().signal);
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
  const clock = new StreamClock(200, new AbortController().signal);
  await vi.advanceTimersByTimeAsync(200);
  clock.sent();
  const first = settled(clock.wait(never));
  await vi.advanceTimersByTimeAsync(199);
  expect(first.done).toBe(false);
  await vi.advanceTimersByTimeAsync(1);
  expect(first.done).toBe(true);
  // Nothing sent since: the interval stays due, and a new wait is woken by the feed, not left hanging on a spent timer.
  expect(clock.due()).toBe(true);
  let advance!: () => void;
  const second = settled(clock.wait(new Promise<void>((r) => (advance = r))));
  await vi.advanceTimersByTimeAsync(0);
  expect(second.done).toBe(false);
  advance();
  await vi.advanceTimersByTimeAsync(0);
  expect(second.done).toBe(true);
  clock.stop();
});

test("the call ending wakes a wait", async () => {
  const abort = new AbortController();
  const clock = new StreamClock(60_000, abort.signal);
  const waiting = settled(clock.wait(never));
  abort.abort();
  await vi.advanceTimersByTimeAsync(0);
  expect(waiting.done).toBe(true);
  clock.stop();
});
