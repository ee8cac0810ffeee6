// How the CLI fails: usage and local file errors (exit 2), refusals and server errors (exit 1), each printed to stderr
// with the gRPC code name and a hint a person can act on. A failure of the connection itself (wrong protocol for the
// port, TLS) is reported as a transport failure on the client's side, never as the server's INTERNAL.
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { codeName } from "../code-name.js";
import type { PortFacts } from "./probe.js";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** `policy check`: the call worked, but at least one permission is not granted. */
export const EXIT_DENIED = 3;

/** A command line the CLI cannot run: unknown flag, missing or conflicting options. Nothing was sent. */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

/** A failure the CLI itself detected (a bad policy file, a refused overwrite), with an optional hint. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly hint?: string,
    readonly code?: Code,
  ) {
    super(message);
  }
}

/** A problem on this side, found before anything was sent: a missing or unreadable file, bad YAML, an unknown key. */
export class LocalError extends CliError {
  override name = "LocalError";
}

export interface ErrorContext {
  /** The command as typed, e.g. `add-binding` or `resources move`. */
  command: string;
  server: string;
  protocol?: "grpc" | "connect";
  /** What the server's port speaks, when a failure made the CLI ask (probe.ts). */
  port?: PortFacts;
}

/** Failures of name resolution and connection: the server is not there, which no protocol would change. */
const UNREACHABLE = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$/;

/**
 * Whether `error` may come from speaking the wrong protocol to the port: a failure of the connection on the client's
 * side (a stream cancelled, a reset, an unparsable answer), or an HTTP error status without a gRPC or Connect body
 * (node's HTTP/2-only servers answer HTTP/1.1 with a bare 403). Then the CLI asks the port what it speaks.
 */
export function mayBeProtocolMismatch(error: unknown): boolean {
  if (!(error instanceof ConnectError)) return false;
  const cause = error.cause as { code?: unknown } | undefined;
  if (typeof cause?.code === "string") return !UNREACHABLE.test(cause.code);
  return (error.code === Code.Canceled && /stream closed with error code/.test(error.rawMessage)) ||
    (/^HTTP \d{3}$/.test(error.rawMessage) && error.details.length === 0);
}

/** The headline and hint for a call whose protocol the port does not speak, by what the port said it speaks. */
function protocolMismatch(ctx: ErrorContext): { what: string; hint: string } | undefined {
  const { port } = ctx;
  if (!port) return undefined;
  const url = new URL(ctx.server);
  const grpcOnly = "it is the server's gRPC port (--grpc-port), which serves gRPC alone: use --protocol grpc, or the main " +
    "port (--port) for the Connect protocol";
  if (url.protocol === "http:" && port.tls) {
    const https = `https://${url.host}`;
    return {
      what: `${ctx.server} speaks TLS, and the call was made in clear text (http://)`,
      hint: `use --server ${https} (with --ca FILE if its certificate is from a private CA)` +
        (ctx.protocol === "connect" && !port.http1 ? `; and ${grpcOnly}` : ""),
    };
  }
  if (ctx.protocol === "connect" && !port.http1) {
    return { what: `${ctx.server} speaks gRPC over HTTP/2 only, not the Connect protocol over HTTP/1.1`, hint: grpcOnly };
  }
  return undefined;
}

const UNTRUSTED_HINT = "the server's TLS certificate is not trusted: give its CA with --ca FILE (POLICY_CA, config `ca`)";

/** TLS verification failures of node:tls, by their error codes. */
const UNTRUSTED_CERTIFICATE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/;

/**
 * The error of node's HTTP/TLS stack behind a ConnectError the client made itself (a response from a server never has
 * a `cause`); undefined for an error the server sent. Refused connections and timeouts are left to their gRPC codes.
 */
function transportCause(error: ConnectError): (Error & { code: string }) | undefined {
  const cause = error.cause as (Error & { code?: unknown }) | undefined;
  if (!(cause instanceof Error) || typeof cause.code !== "string") return undefined;
  if (error.code === Code.Unavailable || error.code === Code.DeadlineExceeded || error.code === Code.Canceled) return undefined;
  return cause as Error & { code: string };
}

function transportHint(cause: Error & { code: string }, ctx: ErrorContext): string {
  if (UNTRUSTED_CERTIFICATE.test(cause.code)) {
    return UNTRUSTED_HINT;
  }
  if (/WRONG_VERSION_NUMBER|wrong version number/.test(`${cause.code} ${cause.message}`)) {
    return `${ctx.server} does not answer TLS: use http:// instead of https://, or the server's TLS port`;
  }
  return (
    `${ctx.server} did not answer in the protocol used: the main port speaks gRPC and Connect, the gRPC port ` +
    "(50051) gRPC alone (--protocol grpc); check --server and --protocol"
  );
}

/** What to check when what a command named does not exist: a role, a consumer, or (most often) a resource. */
function notFoundHint(command: string): string {
  if (command.startsWith("roles")) {
    return "check the role's name: `policy roles list` lists the predefined roles, " +
      "`policy roles list --parent organizations/ID` an organization's custom roles";
  }
  if (command.startsWith("sync consumers")) return "check the consumer's name: `policy sync consumers list` lists them";
  return "check the resource type and id (`policy resources list`), or register it with `policy resources create`";
}

function hintFor(error: ConnectError, ctx: ErrorContext): string | undefined {
  const resources = ctx.command.startsWith("resources");
  // A TLS failure surfaces as a transport error; the server's own refusals (UNAUTHENTICATED) may also say "certificate".
  if (error.code !== Code.Unauthenticated && /certificate/i.test(error.rawMessage)) {
    return UNTRUSTED_HINT;
  }
  switch (error.code) {
    case Code.Aborted:
      return resources
        ? "the resource changed since you read its etag: run `policy resources get` again, or leave out --etag"
        : "the policy changed since you read it: run `policy get` again, or use --force";
    case Code.NotFound:
      return notFoundHint(ctx.command);
    case Code.AlreadyExists:
      return "the name is taken: choose another id, or look at it with `policy resources get`";
    case Code.InvalidArgument:
      return "fix the fields named above and run the command again";
    case Code.FailedPrecondition:
      return resources
        ? "the request is valid but not now: e.g. delete the children first, or pass --cascade"
        : "the request is valid but not now: read the policy with `policy get -o yaml` and set it with its etag";
    case Code.Unavailable:
      return `is the server running at ${ctx.server}? Choose another with --server, POLICY_SERVER or the config file` +
        " (and --protocol connect for a server behind an HTTP/1.1 proxy)";
    case Code.Unauthenticated:
      return "give a token with --token, POLICY_TOKEN or the config file";
    case Code.PermissionDenied:
      return "the caller of the token lacks the permission: ask an owner of the resource";
    case Code.Unimplemented:
      return "the server does not know this call: is --server a policy server, and is it up to date?";
    case Code.DeadlineExceeded:
      return "the server did not answer in time; try again";
    case Code.Internal:
      return "a server bug: the server's log has the details";
    case Code.Unknown:
      // An HTTP error without a gRPC or Connect status: something other than the policy server answered.
      return /^HTTP \d+/.test(error.rawMessage)
        ? `${ctx.server} answered with a plain HTTP error: is it a policy server, and is --protocol right?`
        : undefined;
    default:
      return undefined;
  }
}

/** The lines to print for `error` and the exit status. */
export function describeError(error: unknown, ctx: ErrorContext): { text: string; exitCode: number } {
  if (error instanceof UsageError) {
    const help = `run \`policy ${error.command ?? ctx.command} --help\` for usage`.replace("policy  --help", "policy --help");
    return { text: `error: ${error.message}\n${help}`, exitCode: EXIT_USAGE };
  }
  if (error instanceof CliError) {
    const code = error.code === undefined ? "" : `${codeName(error.code)}: `;
    const text = `error: ${code}${error.message}${error.hint ? `\nhint: ${error.hint}` : ""}`;
    return { text, exitCode: error instanceof LocalError ? EXIT_USAGE : EXIT_FAILURE };
  }
  const e = ConnectError.from(error);
  const mismatch = protocolMismatch(ctx);
  if (mismatch) {
    // UNAVAILABLE, as a connection the client could not use; what node or the port said follows in parentheses (not
    // the code connect-es gave it: an INTERNAL here is no server's).
    const said = e.rawMessage.split("\n")[0];
    return { text: `error: UNAVAILABLE: ${mismatch.what} (${said})\nhint: ${mismatch.hint}`, exitCode: EXIT_FAILURE };
  }
  const transport = transportCause(e);
  if (transport) {
    // UNAVAILABLE, as gRPC clients report a connection they could not use; the cause is node's, not the server's.
    // OpenSSL's messages carry a source path; its reason ("wrong version number") is what a person needs.
    const reason = /SSL routines:[^:]*:([^:]+)/.exec(transport.message)?.[1] ?? transport.message.split("\n")[0];
    const text = `error: UNAVAILABLE: transport failure on the client's side (${transport.code}): ${reason}\n` +
      `hint: ${transportHint(transport, ctx)}`;
    return { text, exitCode: EXIT_FAILURE };
  }
  const violations = e.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations);
  const lines =
    violations.length === 0
      ? [`error: ${codeName(e.code)}: ${e.rawMessage}`]
      : [
          `error: ${codeName(e.code)}: ` +
            `${violations.length === 1 ? "a problem" : `${violations.length} problems`} in the request:`,
          ...violations.map((v) => `  ${v.field}: ${v.description}`),
        ];
  const hint = hintFor(e, ctx);
  if (hint) lines.push(`hint: ${hint}`);
  return { text: lines.join("\n"), exitCode: EXIT_FAILURE };
}
