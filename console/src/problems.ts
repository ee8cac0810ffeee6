// Errors from the server as the console shows them: code, message, and each field violation
// (google.rpc.BadRequest), so that a form can highlight the field it names.
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
}

const SCREAMING = (name: string) => name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();

export function problemOf(error: unknown): Problem {
  const e = ConnectError.from(error);
  const fields = e.findDetails(BadRequestSchema).flatMap((d) =>
    d.fieldViolations.map((v) => ({ field: v.field, description: v.description })),
  );
  return { code: SCREAMING(Code[e.code] ?? "Unknown"), message: e.rawMessage, fields };
}

export function isCode(error: unknown, code: Code): boolean {
  return ConnectError.from(error).code === code;
}

/** The description of the problem with `field` (or a field inside it, e.g. `resource` covers `resource.name`). */
export function fieldProblem(problem: Problem | undefined, field: string): string | undefined {
  return problem?.fields.find((f) => f.field === field)?.description;
}

/** Policy fields name the binding's index in the request; the table shows rows: `policy.bindings[2].members[0]` -> row. */
export function bindingField(field: string): { binding: number; rest: string } | undefined {
  const m = /^policy\.bindings\[(\d+)\](.*)$/.exec(field);
  return m ? { binding: Number(m[1]), rest: m[2]! } : undefined;
}
