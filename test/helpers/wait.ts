// The one way a test waits for something that happens asynchronously (a stream's message, a health state, a row, a
// metric): poll for the event itself under a generous deadline, never sleep a fixed time and hope. The deadline only
// turns a hang into a failure that names what never happened; it is not a timing assertion, so it is long.
export const WAIT_LIMIT_MS = 20_000;

export interface WaitOptions {
  /** Give up after this long (default WAIT_LIMIT_MS). */
  limitMs?: number;
  /** Pause between probes (default 10 ms). */
  intervalMs?: number;
}

/**
 * Resolves with the probe's first truthy answer. A probe that throws counts as "not yet"; when the deadline passes the
 * error says what was waited for, with the last error the probe threw.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  what: string,
  { limitMs = WAIT_LIMIT_MS, intervalMs = 10 }: WaitOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + limitMs;
  let lastError: unknown;
  for (;;) {
    try {
      const answer = await probe();
      if (answer) return answer as NonNullable<T>;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const cause = lastError === undefined ? "" : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`waited ${limitMs} ms for ${what}, in vain${cause}`, { cause: lastError });
    }
    await pause(intervalMs);
  }
}

/** A pause between attempts of a loop that waits for something (a client's retry back-off); not a synchronisation. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
