// Unique names for the resources of tests that share one server (and one database) per file.
let counter = 0;

/** An id no other test in this process uses, e.g. `prj_4242x7`; the pid keeps parallel workers apart. */
export function uniqueId(prefix = "r"): string {
  return `${prefix}${process.pid}x${++counter}`;
}
