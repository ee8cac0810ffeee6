// What both enforcement points share: the rule a service author writes (an incoming call -> the resource and the
// permission it needs, and who is calling), and the check itself, on a mirror or by the CheckAccess RPC. A call the
// rule does not map is refused (fail closed), as the server's own rule table refuses a method without a rule.
import { Code, ConnectError } from "@connectrpc/connect";
import { AccessState } from "../../../gen/policy/v1/access_service_pb.js";
import type { PolicyClient } from "../client.js";
import type { PolicyMirror } from "../mirror/mirror.js";

/** What an incoming call needs: `permission` on `resource`, for `principals` (the verified caller's identities). */
export interface Requirement {
  resource: string;
  permission: string;
  /** The caller's principals, e.g. `["user:ada@example.com", "group:eng"]`; none: the caller is anonymous. */
  principals: string[];
  /** Request attributes a binding's condition may read (CheckAccess `attributes`). */
  attributes?: Record<string, unknown>;
}

/** Where checks go: a mirror (in process, falling back to the server where it must) or the server itself. */
export type Checker = PolicyMirror | PolicyClient;

/** The outcome of one enforcement. */
export type Verdict = "allow" | "deny" | "unmapped" | "error";

export interface EnforceOptions<Call> {
  checker: Checker;
  /**
   * Maps a call to what it needs; undefined for a call the rule does not cover (refused, unless `allowUnmapped` says
   * it is public). May be async (e.g. to look up the resource a path names).
   */
  rule(call: Call): Requirement | undefined | Promise<Requirement | undefined>;
  /** Lets calls the rule does not map through (health checks, public pages). Default: refused. */
  allowUnmapped?: (call: Call) => boolean;
  /** Told every verdict (for logs and metrics): never shown to the caller. */
  onDecision?: (verdict: Verdict, call: Call, detail: { requirement?: Requirement; error?: unknown }) => void;
}

/** Whether `requirement` holds, by `checker`. Throws what the checker throws (the server or mirror unavailable). */
export async function holds(checker: Checker, requirement: Requirement): Promise<boolean> {
  if (requirement.principals.length === 0) return false;
  const request = {
    resource: requirement.resource,
    principals: requirement.principals,
    permissions: [requirement.permission],
    attributes: requirement.attributes as never,
  };
  try {
    const answer = "checkAccess" in checker ? await checker.checkAccess(request) : await checker.access.checkAccess(request);
    return answer.results[0]?.state === AccessState.GRANTED;
  } catch (e) {
    // An absent resource is refused like one the caller may not use, and bad input (a malformed name or principal
    // the rule built from the request) is the caller's: neither may tell them more than a refusal.
    const code = ConnectError.from(e).code;
    if (code === Code.NotFound || code === Code.InvalidArgument) return false;
    throw e;
  }
}

/** The verdict on `call`, and what to report of it. */
export async function decide<Call>(options: EnforceOptions<Call>, call: Call): Promise<Verdict> {
  let requirement: Requirement | undefined;
  try {
    requirement = await options.rule(call);
    if (!requirement) {
      const verdict = options.allowUnmapped?.(call) ? "allow" : "unmapped";
      options.onDecision?.(verdict, call, {});
      return verdict;
    }
    const verdict = (await holds(options.checker, requirement)) ? "allow" : "deny";
    options.onDecision?.(verdict, call, { requirement });
    return verdict;
  } catch (error) {
    options.onDecision?.("error", call, { requirement, error });
    return "error";
  }
}
