// A tree of resources with policies held in memory, handing checkChain the chain a store would read: lets unit tests
// state a hierarchy in a few lines.
import { create } from "@bufbuild/protobuf";
import type { PermissionCheck } from "../../gen/policy/v1/access_service_pb.js";
import { PolicySchema, type AuditLogConfig_LogType, type Policy } from "../../gen/policy/v1/policy_pb.js";
import { ResourceSchema } from "../../gen/policy/v1/resource_pb.js";
import { auditsRead, checkChain, type CheckInput } from "../../src/domain/access/chain-check.js";
import type { ResourceSchema as Schema } from "../../src/schema/schema.js";
import type { StoredPolicy } from "../../src/store/store.js";

export class ChainTree {
  private readonly nodes = new Map<string, StoredPolicy>();

  constructor(private readonly schema: Schema) {}

  /** Adds a resource, or moves it under `parent`. */
  putResource(name: string, parent: string, type: string): void {
    const policy = this.nodes.get(name)?.policy ?? create(PolicySchema, {});
    this.nodes.set(name, { resource: create(ResourceSchema, { name, parent, type }), createSeq: 0, policy });
  }

  setPolicy(name: string, policy: Policy | undefined): void {
    const node = this.nodes.get(name)!;
    this.nodes.set(name, { resource: node.resource, createSeq: 0, policy: policy ?? create(PolicySchema, {}) });
  }

  deleteResource(name: string): void {
    this.nodes.delete(name);
  }

  /** The resource and its ancestors, as Store.ancestry returns them. */
  chain(name: string): StoredPolicy[] | undefined {
    const chain: StoredPolicy[] = [];
    for (let link = this.nodes.get(name); link; link = this.nodes.get(link.resource.parent)) chain.push(link);
    return chain.length > 0 ? chain : undefined;
  }

  check(name: string, input: CheckInput): PermissionCheck[] | undefined {
    const chain = this.chain(name);
    return chain && checkChain(this.schema, chain, input);
  }

  auditsRead(name: string, service: string, logType: AuditLogConfig_LogType, identities: readonly string[]): boolean {
    const chain = this.chain(name);
    return chain !== undefined && auditsRead(chain, service, logType, identities);
  }
}

/** Store.ancestry and latestSequence over a ChainTree: what Access reads, for tests without a store. */
export class ChainTreeStore {
  constructor(private readonly tree: ChainTree) {}
  ancestry = async (name: string) => this.tree.chain(name);
  latestSequence = async () => 0;
}
