// gRPC's canonical name of a status code, as logs, metrics and the CLI print it.
import { Code } from "@connectrpc/connect";

/** e.g. INVALID_ARGUMENT for Code.InvalidArgument; the number for a code connect does not know. */
export function codeName(code: Code): string {
  return (Code[code] ?? String(code)).replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}
