// What an attack of `npm run bench:attacks` is (bench/attacks.ts runs them): a module in this folder exporting
// `attack: Attack`. Each attack gets a fresh built server (authentication on, its own database) with two organizations
// in it: the attacker's (where the attacker owns one project and nothing else) and the victim's. While the attack
// runs, the victim — the owner of the other organization — reads its own project's policy in a loop on the gRPC port;
// the runner reports the victim's GetPolicy p50/p99 and the server's peak RSS, against a baseline run with no attack.
// Targets (issue 25): victim p99 < 100 ms, server RSS < 1 GB, for every attack.
import type { PolicyClient } from "../../src/client/index.js";

/** A principal with a token and clients on both ports. */
export interface Tenant {
  /** e.g. `mallory@attacker.example` (the principal is `user:{email}`). */
  email: string;
  token: string;
  /** Clients on the main port (gRPC over HTTP/2, connect-node). */
  main: PolicyClient;
  /** Clients on the gRPC port (grpc-js). */
  grpc: PolicyClient;
}

export interface AttackContext {
  /** The main port's URL (http://127.0.0.1:PORT) and the gRPC port's. */
  mainUrl: string;
  grpcUrl: string;
  /** The server's process id: read /proc/PID for memory. */
  pid: number;
  /** A bootstrap administrator (`--admins`): for setup only — attacks run as `attacker` or `stranger`. */
  admin: Tenant;
  /** Owner of `project` (roles/owner on it) and of nothing else. */
  attacker: Tenant & { organization: string; cloud: string; project: string };
  /** Authenticated, with no role anywhere. */
  stranger: Tenant;
  /** Owner of `organization`, the attacker's organization (an attack needing an organization owner uses it). */
  attackerOrgOwner: Tenant & { organization: string };
  /** A token (and clients) for any other principal. */
  tenant(email: string): Promise<Tenant>;
  /** Uniform in [0, 1), from the run's printed seed. */
  random(): number;
}

export interface Attack {
  /** Short, for the table: "regex conditions". */
  name: string;
  /** One sentence: what the attacker does. */
  description: string;
  /** Extra server flags for this attack (e.g. a smaller limit); the defaults are what users run. */
  serverArgs?: string[];
  /** Setup before the victim's measurement starts (not measured). */
  prepare?(ctx: AttackContext): Promise<void>;
  /**
   * The attack itself: runs until `signal` aborts (the runner measures the victim meanwhile), then stops and
   * releases what it holds. Failures of the attacker's own calls are expected (limits answering): swallow them.
   * Loopback only, bounded in count.
   */
  run(ctx: AttackContext, signal: AbortSignal): Promise<void>;
}
