// Errors from the server as the console shows them: code, a message a console user can act on, and each field
// violation (google.rpc.BadRequest), so that a form can highlight the field it names.
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";

export interface FieldProblem {
  field: string;
  description: string;
}

export interface Problem {
  /** e.g. INVALID_ARGUMENT */
  code: string;
  message: string;
  fields: FieldProblem[];
  /** The server could not be reached, or is unavailable: trying again may work. */
  retryable: boolean;
}

const SCREAMING = (name: string) => name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();

/** The server's words, said for a person using the console rather than a programmer using the API. */
function forConsole(e: ConnectError): string {
  const message = e.rawMessage;
  if (e.code === Code.NotFound) {
    // The API tells a client to register the resource; in the console it is gone, or hidden from this caller.
    const name = /"([^"]+)"|([a-zA-Z]+\/[^\s:;,]+)/.exec(message);
    const what = name ? (name[1] ?? name[2]) : "It";
    return `${what} does not exist, or you may not see it. Check the name, or ask an owner of it for a role.`;
  }
  if (e.code === Code.Unavailable || (e.code === Code.Unknown && /fetch|network|Load failed/i.test(message))) {
    return "The policy server cannot be reached: it may be down or restarting. Try again in a moment.";
  }
  if (e.code === Code.PermissionDenied) return `You may not do this here: ${message}`;
  if (e.code === Code.Unauthenticated) return `Sign in first: paste a bearer token above. (${message})`;
  if (e.code === Code.Aborted) return `Someone else changed it meanwhile: reload and try again. (${message})`;
  return message;
}

export function problemOf(error: unknown): Problem {
  const e = ConnectError.from(error);
  const fields = e.findDetails(BadRequestSchema).flatMap((d) =>
    d.fieldViolations.map((v) => ({ field: v.field, description: v.description })),
  );
  const unreachable = e.code === Code.Unavailable || (e.code === Code.Unknown && /fetch|network|Load failed/i.test(e.rawMessage));
  return {
    code: unreachable ? "SERVER_UNREACHABLE" : SCREAMING(Code[e.code] ?? "Unknown"),
    message: forConsole(e),
    fields,
    retryable: unreachable,
  };
}

export function isCode(error: unknown, code: Code): boolean {
  return ConnectError.from(error).code === code;
}

/** The description of the problem with `field` (or a field inside it, e.g. `resource` covers `resource.name`). */
export function fieldProblem(problem: Problem | undefined, field: string): string | undefined {
  return problem?.fields.find((f) => f.field === field)?.description;
}

/** Policy fields name the binding's index in the request; the table shows rows: `policy.bindings[2].members[0]` -> row. */
export function bindingField(field: string, prefix = "policy.bindings"): { binding: number; rest: string } | undefined {
  const m = new RegExp(`^${prefix.replace(/\./g, "\\.")}\\[(\\d+)\\](.*)$`).exec(field);
  return m ? { binding: Number(m[1]), rest: m[2]! } : undefined;
}
