// Scratch folders for databases, keys, certificates and schema files; each test file removes its own.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A new empty folder under the system's temporary folder. */
export function tempDir(prefix = "policy-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Removes `dir` and everything in it; nothing when it is already gone. */
export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}
