// The shared test helpers that decide what a test waits for and which PostgreSQL it uses.
import { expect, test } from "vitest";
import { newestVersion } from "../helpers/private-postgres.js";
import { waitFor } from "../helpers/wait.js";

test("waitFor resolves with the probe's first truthy answer, probes that throw count as not yet", async () => {
  let calls = 0;
  const answer = await waitFor(() => {
    calls++;
    if (calls === 1) throw new Error("not ready");
    return calls >= 3 && { calls };
  }, "the third call");
  expect(answer).toEqual({ calls: 3 });
});

test("waitFor gives up after its limit with an error naming what it waited for and the probe's last error", async () => {
  const never = waitFor(
    () => {
      throw new Error("connection refused");
    },
    "the replica to answer",
    { limitMs: 30 },
  );
  await expect(never).rejects.toThrow(/waited 30 ms for the replica to answer, in vain \(last error: connection refused\)/);
});

test("the private PostgreSQL cluster uses the newest version, compared as sort -V does (as .ci/run)", () => {
  expect(newestVersion(["9.6", "15", "10", "16"])).toBe("16");
  expect(newestVersion(["9.6", "9.10"])).toBe("9.10");
  expect(newestVersion([])).toBeUndefined();
});
