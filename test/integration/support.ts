// Small helpers shared by the integration tests: expected failures, unique names, a seeded hierarchy.
export { expectCode, failureOf, fieldViolations } from "../helpers/call-failures.js";
export { uniqueId } from "../helpers/ids.js";
export { createHierarchy, type Hierarchy } from "../helpers/hierarchy.js";

/** A binding of `role` to `members`. */
export function binding(role: string, ...members: string[]) {
  return { role, members };
}
