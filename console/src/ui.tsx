// Small shared pieces: the server error box, labelled fields that show their own problem, a confirmation dialog.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import type { Problem } from "./problems.js";

let ids = 0;
/** A stable id for label/aria wiring. */
export function useId(prefix: string): string {
  const id = useRef("");
  if (!id.current) id.current = `${prefix}-${++ids}`;
  return id.current;
}

/**
 * A server error: its code, a message a console user can act on, and every field it names; a Retry button when the
 * server could not be reached. role=alert so screen readers announce it.
 */
export function ErrorBox({ problem, fieldLabel, onRetry }: { problem?: Problem; fieldLabel?: (field: string) => string; onRetry?: () => void }) {
  if (!problem) return null;
  return (
    <div class="error" role="alert" data-code={problem.code}>
      <strong>{problem.code === "SERVER_UNREACHABLE" ? "Server unreachable" : problem.code}</strong>: {problem.message}
      {problem.fields.length > 0 && (
        <ul>
          {problem.fields.map((f) => (
            <li key={f.field}>
              <code>{fieldLabel ? fieldLabel(f.field) : f.field}</code>: {f.description}
            </li>
          ))}
        </ul>
      )}
      {onRetry && problem.retryable && (
        <div>
          <button type="button" onClick={onRetry}>
            Retry
          </button>
        </div>
      )}
    </div>
  );
}

interface TextFieldProps {
  label: string;
  value: string;
  onInput: (value: string) => void;
  /** The problem with this field, from the server or a check as you type. */
  error?: string;
  hint?: string;
  placeholder?: string;
  multiline?: boolean;
  type?: "text" | "password";
  list?: string;
  name?: string;
  required?: boolean;
  onKeyDown?: (e: KeyboardEvent) => void;
}

export function TextField(p: TextFieldProps) {
  const id = useId("f");
  const describedBy = [p.error ? `${id}-err` : "", p.hint ? `${id}-hint` : ""].filter(Boolean).join(" ") || undefined;
  const common = {
    id,
    name: p.name,
    value: p.value,
    placeholder: p.placeholder,
    required: p.required,
    "aria-invalid": p.error ? ("true" as const) : undefined,
    "aria-describedby": describedBy,
    onInput: (e: Event) => p.onInput((e.currentTarget as HTMLInputElement).value),
    onKeyDown: p.onKeyDown,
  };
  return (
    <div class={`field${p.error ? " invalid" : ""}`}>
      <label for={id}>{p.label}</label>
      {p.multiline ? (
        <textarea rows={3} {...common} />
      ) : p.type === "password" ? (
        <input type="password" autocomplete="off" {...common} />
      ) : (
        <input type="text" list={p.list} autocomplete="off" {...common} />
      )}
      {p.hint && <small id={`${id}-hint`}>{p.hint}</small>}
      {p.error && (
        <small class="field-error" id={`${id}-err`}>
          {p.error}
        </small>
      )}
    </div>
  );
}

/** A modal confirmation (native <dialog>: focus stays inside, Escape cancels). */
export function Confirm(p: { title: string; children: ComponentChildren; confirm: string; onConfirm: () => void; onCancel: () => void; danger?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId("dlg");
  useEffect(() => {
    // Focus goes back where it was when the dialog closes, not to <body>.
    const opener = document.activeElement as HTMLElement | null;
    ref.current?.showModal();
    return () => {
      if (opener?.isConnected) opener.focus();
      else document.getElementById("main")?.focus();
    };
  }, []);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onCancel={(e) => (e.preventDefault(), p.onCancel())}>
      <h2 id={titleId}>{p.title}</h2>
      {p.children}
      <div class="actions">
        <button type="button" onClick={p.onCancel}>
          Cancel
        </button>
        <button type="button" class={p.danger ? "danger" : "primary"} onClick={p.onConfirm}>
          {p.confirm}
        </button>
      </div>
    </dialog>
  );
}

export function formatTime(t: { seconds: bigint; nanos: number } | undefined): string {
  if (!t) return "";
  return new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** Etags and other bytes, shown one way everywhere: base64, as the API's JSON encoding shows them. */
export function base64(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

/** A table that scrolls sideways on a narrow screen instead of squeezing its columns to a word per line. */
export function Wide({ children }: { children: ComponentChildren }) {
  return <div class="wide">{children}</div>;
}

/** A list of words (members, permissions) typed into one field: split on spaces, commas and new lines. */
export function words(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

export function ResourceLink({ name }: { name: string }) {
  return <a href={`#/${name}`}>{name}</a>;
}
