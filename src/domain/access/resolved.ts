// The resources one call is about, each resolved at most once: its name parsed to a type, and its chain read from the
// store only when something needs it. Authorization, the handler and read auditing of a call share them, so a call
// reads a resource's chain once however many of them look at it.
import type { Store, StoredPolicy } from "../../store/store.js";
import { typeOfName } from "../names.js";
import type { ResourceSchema, ResourceType } from "../../schema/schema.js";

type ChainStore = Pick<Store, "ancestry" | "latestSequence">;

export interface ChainRead {
  /** A change-log sequence read before the chain: the chain reflects at least every write up to it. */
  sequence: number;
  /** The resource and its ancestors with their policies, from the resource up to the root; undefined when absent. */
  chain: StoredPolicy[] | undefined;
}

export class ResolvedResource {
  /** The resource's type, or what is wrong with its name. */
  readonly type: ResourceType | string;
  private read: Promise<ChainRead> | undefined;

  constructor(
    readonly name: string,
    schema: ResourceSchema,
    private readonly store: ChainStore,
  ) {
    this.type = typeOfName(schema, name);
  }

  /** The chain and the sequence it reflects, read on first use. */
  readChain(): Promise<ChainRead> {
    return (this.read ??= this.readNow());
  }

  /** The chain alone (an arrow, so that it can be handed on as a function). */
  readonly chain = async (): Promise<StoredPolicy[] | undefined> => (await this.readChain()).chain;

  private async readNow(): Promise<ChainRead> {
    // Before the chain: CheckAccess answers with this sequence as a consistency token.
    const sequence = await this.store.latestSequence();
    return { sequence, chain: await this.store.ancestry(this.name) };
  }
}

/** The per-call memo: one ResolvedResource per name. */
export class CallResources {
  private readonly byName = new Map<string, ResolvedResource>();

  constructor(
    private readonly schema: ResourceSchema,
    private readonly store: ChainStore,
  ) {}

  of(name: string): ResolvedResource {
    let resolved = this.byName.get(name);
    if (!resolved) {
      resolved = new ResolvedResource(name, this.schema, this.store);
      this.byName.set(name, resolved);
    }
    return resolved;
  }
}
