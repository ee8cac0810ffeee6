// What of a chain (a resource and its ancestors, each with its policy, its deny policy and the shared policies bound
// to it) an answer may show its caller: only what the caller could have read itself (docs/security.md, "What answers
// show"). An answer resolves its caller's rights once, for the sources it would name — each distinct shared policy
// once, the chain's deny policies only when it names one of their rules — and leaves the rest out, marked partial.
import type { StoredPolicy } from "../../store/store.js";

/** Which links of a chain (the resource, then its ancestors) an answer may show its caller; undefined: all of them. */
export type Disclosure = (chain: readonly StoredPolicy[]) => readonly boolean[] | undefined;

/** What of a chain an answer may show its caller (the whole of it when there is no disclosure: administrators). */
export interface ChainDisclosure {
  /**
   * The links the answer may show at all, by the permission its own read needs on each: `{collection}.getPolicy` for
   * an effective policy or who can, `access.check` for CheckAccess explanations.
   */
  links: Disclosure;
  /** The links whose deny policy it may read (`{collection}.getDenyPolicy`, as GetDenyPolicy needs). */
  denyPolicies: Disclosure;
  /** Of the shared policies named, those it may read (`sharedPolicies.get`, as GetSharedPolicy needs); undefined: all. */
  sharedPolicies(names: readonly string[]): Promise<ReadonlySet<string> | undefined>;
}

/** Where a binding or a deny rule of a chain is held: a link (by index), in its own policy ("") or a bound shared one. */
export interface Source {
  link: number;
  sharedPolicy: string;
}

/** What the caller may read of the sources one answer names. */
export class Readable {
  private constructor(
    private readonly links: readonly boolean[] | undefined,
    private readonly denies: readonly boolean[] | undefined,
    private readonly shared: ReadonlySet<string> | undefined,
  ) {}

  /**
   * `disclosure` resolved for an answer about `chain` that would name the shared policies `sharedPolicies` and, when
   * `denyPolicies`, rules of the links' own deny policies; `links` is what `disclosure.links` said of the chain.
   */
  static async of(
    chain: readonly StoredPolicy[],
    disclosure: ChainDisclosure | undefined,
    links: readonly boolean[] | undefined,
    named: { sharedPolicies: Iterable<string>; denyPolicies: boolean },
  ): Promise<Readable> {
    if (!disclosure) return new Readable(undefined, undefined, undefined);
    const names = [...new Set(named.sharedPolicies)].filter((name) => name !== "");
    const shared = names.length > 0 ? await disclosure.sharedPolicies(names) : undefined;
    const denies = named.denyPolicies ? disclosure.denyPolicies(chain) : undefined;
    return new Readable(links, denies, shared);
  }

  /** Whether the caller may read the shared policy `name` ("": a link's own policy, judged by its link). */
  sharedPolicy(name: string): boolean {
    return name === "" || this.shared === undefined || this.shared.has(name);
  }

  /** Whether the caller may read a binding held at `source`. */
  binding({ link, sharedPolicy }: Source): boolean {
    return this.links?.[link] !== false && this.sharedPolicy(sharedPolicy);
  }

  /** Whether the caller may read a deny rule held at `source`. */
  denyRule({ link, sharedPolicy }: Source): boolean {
    if (this.links?.[link] === false) return false;
    return sharedPolicy !== "" ? this.sharedPolicy(sharedPolicy) : this.denies?.[link] !== false;
  }
}
