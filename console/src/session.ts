// Who is signed in (GetCallerIdentity), what the caller may do on the page's resource (one TestIamPermissions per
// page), and edits not yet saved (so that a tab switch or a token change does not drop them silently).
import { useEffect, useState } from "preact/hooks";
import type { GetCallerIdentityResponse } from "../../gen/policy/v1/access_service_pb.js";
import { api } from "./api.js";
import type { Schema } from "./schema.js";

export type Identity = GetCallerIdentityResponse;

let identity: Identity | undefined;
let identityPromise: Promise<Identity | undefined> | undefined;

/** The caller as the server sees it; undefined when the server refuses to say (no token) or cannot be reached. */
export function loadIdentity(): Promise<Identity | undefined> {
  identityPromise ??= api.access.getCallerIdentity({}).then(
    (me) => (identity = me),
    () => (identity = undefined),
  );
  return identityPromise;
}

export function forgetIdentity(): void {
  identity = undefined;
  identityPromise = undefined;
}

export function currentIdentity(): Identity | undefined {
  return identity;
}

export function useIdentity(): Identity | undefined {
  const [me, setMe] = useState(identity);
  useEffect(() => {
    void loadIdentity().then(setMe);
  }, []);
  return me;
}

/**
 * The permissions the caller holds on `resource`, among those the page's controls need (one TestIamPermissions call).
 * Undefined while asking; a control is enabled only for what the answer holds.
 */
export function usePermissions(schema: Schema, resource: string, wanted: readonly string[]): ReadonlySet<string> | undefined {
  const [held, setHeld] = useState<ReadonlySet<string>>();
  const known = wanted.filter((p) => schema.knows(p));
  const key = `${resource}\n${known.join(",")}`;
  useEffect(() => {
    setHeld(undefined);
    let current = true;
    api.policies.testIamPermissions({ resource, permissions: known }).then(
      (res) => current && setHeld(new Set(res.permissions)),
      () => current && setHeld(new Set()),
    );
    return () => {
      current = false;
    };
  }, [key]);
  return held;
}

// --- Unsaved edits ---

const unsaved = new Map<string, string>();

/** Marks (or clears) an editor's unsaved edits: `what` says what would be lost. */
export function setUnsaved(editor: string, what: string | undefined): void {
  if (what) unsaved.set(editor, what);
  else unsaved.delete(editor);
}

/** True when nothing is unsaved, or the user agrees to drop it. */
export function confirmDiscard(action: string): boolean {
  if (unsaved.size === 0) return true;
  const ok = confirm(`${action} drops your unsaved changes (${[...unsaved.values()].join("; ")}). Drop them?`);
  if (ok) unsaved.clear();
  return ok;
}

export function hasUnsaved(): boolean {
  return unsaved.size > 0;
}

/** Keeps an editor's unsaved state up to date while it is mounted. */
export function useUnsaved(editor: string, what: string | undefined): void {
  useEffect(() => setUnsaved(editor, what), [editor, what]);
  useEffect(() => () => setUnsaved(editor, undefined), [editor]);
}
