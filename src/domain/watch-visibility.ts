// Who receives a change on a Watch stream. Each change-log action has one rule (CHANGE_VISIBILITY): its kind, and the
// permission its own read needs (GetPolicy's, GetDenyPolicy's, GetRole's, GetSharedPolicy's, GetSharedPolicyBinding's).
// The permission is judged, when the change is delivered, against the current policies — on the resource the change
// was written to, never on a later resource of the same name: a row belongs to the resource that has its name now
// only when that resource was created at or before the row (StoredPolicy.createSeq). The history of a resource since
// removed is for administrators only, except what a follower needs to drop state (its removal, its moves): that goes
// to whoever holds the permission on its nearest surviving ancestor and is not refused it by the deny rules the
// removed resource — and each removed ancestor in between — had at its end (kept in its removal row).
import { create } from "@bufbuild/protobuf";
import { DenyPolicySchema } from "../../gen/policy/v1/deny_policy_pb.js";
import { PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { ResourceSchema } from "../../gen/policy/v1/resource_pb.js";
import { ChangeKind } from "../../gen/policy/v1/watch_service_pb.js";
import { RecentCache } from "../recent-cache.js";
import { detached } from "../tracing/spans.js";
import { deepFreeze } from "../frozen-value.js";
import { REMOVALS, changeAction, estimatedBytes, isChangeAction, type ChangeAction, type ChangeRecord, type Store, type StoredPolicy } from "../store/store.js";
import type { Access } from "./access/access.js";
import type { Authorizer, Caller } from "./access/authorizer.js";
import { permissionOn } from "./names.js";
import { readPermission, SHARED_POLICY_READ, type ReadVerb } from "./access/read-permissions.js";

/** A permission a watcher needs on a resource. */
interface Need {
  resource: string;
  permission: string;
}

/** What Watch makes of a change-log action. */
interface ChangeVisibilityRule {
  kind: ChangeKind;
  /**
   * What a watcher needs to receive the change, as the change's own read needs it: every need of one of the lists
   * (more than one list: either suffices).
   */
  needs(change: ChangeRecord): readonly (readonly Need[])[];
  /**
   * Whether a follower needs the change to drop what it holds, so that it is still delivered once its resource is
   * gone (to whoever could see the resource at its end). Any other change of a gone resource is administrators' only.
   */
  dropsState?(change: ChangeRecord): boolean;
}

/** The permission `{collection}.{verb}` on the change's resource. */
const own =
  (verb: ReadVerb) =>
  (change: ChangeRecord): Need[][] => [[{ resource: change.resource, permission: permissionOn(change.resource, verb) }]];

/** A shared-policy binding, logged against its target: either half, as GetSharedPolicyBinding. */
const eitherHalf = (change: ChangeRecord): Need[][] => {
  const target = change.resource;
  const targetHalf = [{ resource: target, permission: readPermission(target, "sharedPolicyBinding") }];
  const sharedPolicy = change.sharedPolicyBinding?.sharedPolicy;
  if (!sharedPolicy) return [targetHalf];
  // The policy half names the target: only a target the watcher may see (`.get`), as a listing by policy would.
  const policyHalf = [
    { resource: sharedPolicy, permission: SHARED_POLICY_READ.binding },
    { resource: target, permission: readPermission(target, "resource") },
  ];
  return [targetHalf, policyHalf];
};

const always = () => true;

/**
 * Every action's kind and permission, in one table: the compiler refuses an action (store.ts, ChangeAction) without
 * one. Resource changes need the policy's permission, not GetResource's `.get`: a create, move or delete changes
 * effective policies (a follower of policies needs it) and names who made it, which `.get` alone never shows.
 */
export const CHANGE_VISIBILITY: Readonly<Record<ChangeAction, ChangeVisibilityRule>> = {
  "policy.set": { kind: ChangeKind.POLICY_SET, needs: own("getPolicy") },
  "policy.delete": { kind: ChangeKind.POLICY_DELETED, needs: own("getPolicy") },
  "resource.create": { kind: ChangeKind.RESOURCE_CREATED, needs: own("getPolicy") },
  // RESOURCE_MOVED when the parent changed (kindOf).
  "resource.update": { kind: ChangeKind.RESOURCE_UPDATED, needs: own("getPolicy"), dropsState: (c) => c.previousParent !== undefined },
  "resource.delete": { kind: ChangeKind.RESOURCE_DELETED, needs: own("getPolicy"), dropsState: always },
  "denyPolicy.set": { kind: ChangeKind.DENY_POLICY_SET, needs: own("getDenyPolicy") },
  "denyPolicy.delete": { kind: ChangeKind.DENY_POLICY_DELETED, needs: own("getDenyPolicy") },
  // Logged against the organization that defines the role.
  "role.create": { kind: ChangeKind.ROLE_CHANGED, needs: own("getRole") },
  "role.update": { kind: ChangeKind.ROLE_CHANGED, needs: own("getRole") },
  "role.delete": { kind: ChangeKind.ROLE_CHANGED, needs: own("getRole") },
  "role.undelete": { kind: ChangeKind.ROLE_CHANGED, needs: own("getRole") },
  // Logged against the shared policy: `sharedPolicies.get`, GetSharedPolicy's.
  "sharedPolicy.create": { kind: ChangeKind.SHARED_POLICY_CREATED, needs: own("get") },
  "sharedPolicy.update": { kind: ChangeKind.SHARED_POLICY_UPDATED, needs: own("get") },
  "sharedPolicy.delete": { kind: ChangeKind.SHARED_POLICY_DELETED, needs: own("get"), dropsState: always },
  // A gone target's unbinding is not needed to drop state: its removal (or its move out) drops all of it.
  "sharedPolicyBinding.create": { kind: ChangeKind.SHARED_POLICY_BOUND, needs: eitherHalf },
  "sharedPolicyBinding.delete": { kind: ChangeKind.SHARED_POLICY_UNBOUND, needs: eitherHalf },
};

/** What a change-log row did, as Watch names it: an update that changed the parent is a move. */
export function kindOf(change: ChangeRecord): ChangeKind {
  if (change.action === changeAction("resource", "update") && change.previousParent !== undefined) return ChangeKind.RESOURCE_MOVED;
  // A row of a newer version's action: unknown here.
  return isChangeAction(change.action) ? CHANGE_VISIBILITY[change.action].kind : ChangeKind.UNSPECIFIED;
}

/** A change's needs, worked out once for every stream that judges it (the feed hands them all the same record). */
const needsMemo = new WeakMap<ChangeRecord, readonly (readonly Need[])[]>();

function needsOf(change: ChangeRecord, rule: ChangeVisibilityRule): readonly (readonly Need[])[] {
  let needs = needsMemo.get(change);
  if (!needs) {
    needs = rule.needs(change);
    needsMemo.set(change, needs);
  }
  return needs;
}

/** A caller's identities as a key, made once per caller (a stream keeps its caller for its life). */
const callerKeys = new WeakMap<Caller, string>();

function callerKey(caller: Caller): string {
  let key = callerKeys.get(caller);
  if (key === undefined) {
    key = JSON.stringify([caller.principal, caller.identities]);
    callerKeys.set(caller, key);
  }
  return key;
}

/** Estimated heap bytes of what the removals memo keeps: removed resources' deny rules, as links. */
const REMOVALS_MEMO_BYTES = 8 * 1024 * 1024;
/** An end's own fields, beside its link. */
const ENDED_BYTES = 64;

export class WatchVisibility {
  private readonly removals: Removals;
  /**
   * Chain reads in flight, by name, shared by the streams that judge the same rows at once: streams woken together
   * by the feed would otherwise each miss the cache at once and each read (and decode) the same chain. A read started
   * to judge the row `upTo` is as fresh as every row up to it needs (they were all committed before it started).
   */
  private readonly reading = new Map<string, { upTo: number; chain: Promise<StoredPolicy[] | undefined> }>();

  /** This turn's judgments, by change and caller: forgotten at the next turn of the event loop. */
  private readonly judged = new Map<ChangeRecord, Map<string, Promise<boolean>>>();
  private forgetting = false;

  constructor(
    store: Pick<Store, "readChanges">,
    private readonly access: Access,
    private readonly authorizer: Authorizer,
  ) {
    this.removals = new Removals(store);
  }

  /** Whether `caller` receives every change (administrators, development mode): nothing to check per change. */
  seesEverything(caller: Caller): boolean {
    return this.authorizer.isUnrestricted(caller);
  }

  /**
   * Whether `caller` receives `change` (CHANGE_VISIBILITY, judged as the file's header says). Streams of the same
   * caller (the same identities) woken by the same turn share one judgment of each change: it is made and shared
   * within one turn of the event loop, where no write commits (a commit, and the read cache's update, run in their own
   * turn), so each stream still gets the judgment of the moment it delivers.
   */
  visible(change: ChangeRecord, caller: Caller): Promise<boolean> {
    if (this.authorizer.isUnrestricted(caller)) return Promise.resolve(true);
    const who = callerKey(caller);
    let judged = this.judged.get(change);
    const known = judged?.get(who);
    // The turn's memo: forgotten more often, a judgment is made again within the same turn, the same (forgotten too
    // seldom, it is not: the Watch visibility tests judge across turns).
    if (known) return known;
    const judgment = this.judge(change, caller);
    if (!judged) this.judged.set(change, (judged = new Map()));
    judged.set(who, judgment);
    if (!this.forgetting) {
      // Stryker disable next-line BooleanLiteral: the turn's memo (above)
      this.forgetting = true;
      detached(() => setImmediate(() => {
        this.judged.clear();
        this.forgetting = false;
      }));
    }
    return judgment;
  }

  private async judge(change: ChangeRecord, caller: Caller): Promise<boolean> {
    const rule = CHANGE_VISIBILITY[change.action] as ChangeVisibilityRule | undefined;
    // An action this version does not know (a newer replica's): administrators only.
    if (!rule) return false;
    const chains = await this.chainsOf(change, rule);
    for (const needs of needsOf(change, rule)) {
      let all = true;
      for (const need of needs) {
        const held =
          need.resource === change.resource
            ? chains.some((chain) => this.access.holdsIn(chain, caller.identities, need.permission))
            : await this.holdsElsewhere(need, change.seq, caller);
        if (!held) {
          all = false;
          break;
        }
      }
      if (all) return true;
    }
    return false;
  }

  /** Whether `caller` holds `need` on another resource than the change's (a binding's shared policy), as it was then. */
  private async holdsElsewhere(need: Need, seq: number, caller: Caller): Promise<boolean> {
    // Only the resource that had the name at the change, never a later one.
    const chain = await this.currentChain(need.resource, seq);
    return chain !== undefined && this.access.holdsIn(chain, caller.identities, need.permission);
  }

  /**
   * The chains the change's resource is judged on: its chain now when it is the resource the change was written to,
   * and for a move the chain it had before (its own link over its previous ancestors); for a change of a resource since
   * removed that a follower needs, a link with the deny rules it had at its end over its surviving ancestors (before
   * and after a move); otherwise none (administrators only).
   */
  private async chainsOf(change: ChangeRecord, rule: ChangeVisibilityRule): Promise<StoredPolicy[][]> {
    const removes = REMOVALS.includes(change.action);
    const current = removes ? undefined : await this.currentChain(change.resource, change.seq);
    // Most changes: their resource's chain now.
    if (current && !change.previousLineage) return [current];
    // Stryker disable next-line ArrayDeclaration: equivalent — a stray entry is no chain, and holds nothing (Access.holdsIn)
    const chains: (StoredPolicy[] | undefined)[] = [];
    if (current) {
      chains.push(current, await this.along(change.previousLineage!.slice(1), change.seq, [current[0]!]));
    } else {
      // Stryker disable next-line ArrayDeclaration: equivalent — a stray entry is no chain, and holds nothing (Access.holdsIn)
      if (!rule.dropsState?.(change)) return [];
      const end = removes ? this.removals.remember(change) : await this.removals.endOf(change.resource, change.seq);
      // Stryker disable next-line ArrayDeclaration: equivalent — a stray entry is no chain, and holds nothing (Access.holdsIn)
      if (!end?.link) return [];
      // A lineage starts with the removed resource itself, whose end link is already below: walked again (without
      // slice(1)) it would add the same link twice, which denies what the first one does.
      // Stryker disable next-line MethodExpression: equivalent — the removed resource's own end link twice
      chains.push(await this.along(change.lineage.slice(1), change.seq, [end.link]));
      // Stryker disable next-line MethodExpression: equivalent — the removed resource's own end link twice
      if (change.previousLineage) chains.push(await this.along(change.previousLineage.slice(1), change.seq, [end.link]));
    }
    // Stryker disable next-line MethodExpression: equivalent — an undefined chain holds nothing (Access.holdsIn); the filter keeps the type
    return chains.filter((chain) => chain !== undefined);
  }

  /** The chain of the resource that had `name` at `seq`, when it still has it; undefined when it is gone. */
  private async currentChain(name: string, seq: number): Promise<StoredPolicy[] | undefined> {
    // A removal already found costs nothing; an absent name would cost a read on every change.
    if (this.removals.known(name, seq)) return undefined;
    const chain = await this.chainNow(name, seq);
    if (chain && chain[0]!.createSeq <= seq) return chain;
    // Gone: find its end once, so that its other rows are known gone without a read.
    // Stryker disable next-line BooleanLiteral,ConditionalExpression: fills the removals memo only (a miss reads the same end later)
    if (!chain) await this.removals.endOf(name, seq);
    return undefined;
  }

  /** The chain of `name` now, read after the row `seq` was committed: shared with the reads in flight that are. */
  private chainNow(name: string, seq: number): Promise<StoredPolicy[] | undefined> {
    const inFlight = this.reading.get(name);
    if (inFlight && seq <= inFlight.upTo) return inFlight.chain;
    const read = { upTo: seq, chain: this.access.resolve(name).chain() };
    this.reading.set(name, read);
    const done = () => {
      if (this.reading.get(name) === read) this.reading.delete(name);
    };
    read.chain.then(done, done);
    return read.chain;
  }

  /**
   * `below` (the judged resource's link, and removed ones' above it) over the first of `ancestors` (as they were at
   * `seq`, nearest first) that is still the same resource, with its chain now; each removed one on the way adds a link
   * with the deny rules it had at its end. undefined when none survives (or a removal's rules were not recorded).
   */
  private async along(ancestors: readonly string[], seq: number, below: readonly StoredPolicy[]): Promise<StoredPolicy[] | undefined> {
    const links = [...below];
    for (const name of ancestors) {
      const chain = await this.currentChain(name, seq);
      if (chain) return [...links, ...chain];
      const end = await this.removals.endOf(name, seq);
      if (!end?.link) return undefined;
      links.push(end.link);
    }
    return undefined;
  }
}

/** The end of the resource that had a name from `from` (at least) to its removal at `seq`. */
interface Ended {
  from: number;
  seq: number;
  /**
   * A chain link standing for the removed resource: no bindings, the deny rules it had at its end. undefined when its
   * removal row predates their recording: nothing may be judged through it (fail closed).
   */
  link: StoredPolicy | undefined;
  /** The entry's estimated heap size (the memo's weight): the link's as the read cache weighs a chain link. */
  bytes: number;
}

/**
 * Where removed resources ended (Store.readChanges({ removalOf })), memoised for every stream: a row's resource, or an ancestor, is
 * then known gone without a read. The facts never change (a removal stays where it is), so nothing is invalidated;
 * the memo is bounded by the estimated size of the rules it keeps.
 */
class Removals {
  private readonly ends = new RecentCache<string, readonly Ended[]>(REMOVALS_MEMO_BYTES);
  private readonly pending = new Map<string, Promise<Ended | undefined>>();

  constructor(private readonly store: Pick<Store, "readChanges">) {}

  /** The end of the resource that had `name` at `seq`, when already found. */
  known(name: string, seq: number): Ended | undefined {
    return this.ends.get(name)?.find((end) => end.from <= seq && seq <= end.seq);
  }

  /** The end of the resource that had `name` at `seq`; undefined when it has not ended. */
  async endOf(name: string, seq: number): Promise<Ended | undefined> {
    const known = this.known(name, seq);
    if (known) return known;
    // Streams judging the same row at once share one read.
    const key = `${seq} ${name}`;
    let found = this.pending.get(key);
    if (!found) {
      found = this.store.readChanges({ removalOf: name, fromSeq: seq }).then(([removal]) => removal && this.remember(removal, seq));
      this.pending.set(key, found);
      // Stryker disable next-line ArrowFunction: a finished read kept answers what a new one would (a removal never moves); memory only
      const forget = () => this.pending.delete(key);
      found.then(forget, forget);
    }
    return found;
  }

  /** Keeps `removal` as the end of its resource since `from` (at least). */
  remember(removal: ChangeRecord, from = removal.seq): Ended {
    // The memo's bookkeeping: a stray, missing or duplicate entry of the same removal, or its `from` not widened, only
    // makes a later lookup miss and read the store, which finds the same end (a removal never moves).
    // Stryker disable next-line ArrayDeclaration: memo bookkeeping (above)
    const others = this.ends.get(removal.resource) ?? [];
    // Stryker disable next-line ArrowFunction: memo bookkeeping (above)
    const same = others.find((end) => end.seq === removal.seq);
    // Every stream judging a removal row remembers it: once is enough.
    if (same && same.from <= from) return same;
    const link = same ? same.link : removedLink(removal);
    // Stryker disable next-line ArithmeticOperator: the memo's weight, a memory bound (as below)
    const ended: Ended = { from, seq: removal.seq, link, bytes: same ? same.bytes : ENDED_BYTES + (link ? estimatedBytes(link) : 0) };
    // Stryker disable next-line MethodExpression,ArrowFunction,ConditionalExpression,EqualityOperator: memo bookkeeping (above)
    const ends = [...others.filter((end) => end !== same), ended];
    // Stryker disable next-line ArrowFunction,ArithmeticOperator: the memo's weight, a memory bound (an evicted end is read again, the same)
    this.ends.set(removal.resource, ends, ends.reduce((bytes, end) => bytes + end.bytes, 0));
    return ended;
  }
}

/** A chain link for a removed resource: no bindings, the deny rules its removal row kept. */
function removedLink(removal: ChangeRecord): StoredPolicy | undefined {
  const rules = removal.denyRulesAtRemoval;
  if (!rules) return undefined;
  // Deep-frozen, so that checks compile its rules once. A removal without rules keeps an empty deny policy: it denies
  // nothing, as none would.
  return deepFreeze({
    resource: create(ResourceSchema, { name: removal.resource, parent: removal.parent, type: removal.resourceType }),
    // Not recorded, and never compared: a removed resource's link is only ever below the chain of a surviving one.
    createSeq: 0,
    policy: create(PolicySchema, {}),
    deny: create(DenyPolicySchema, { resource: removal.resource, rules: [...rules] }),
  });
}
