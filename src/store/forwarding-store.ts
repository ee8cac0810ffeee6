// A store that hands every call to another: the base of the decorators (the read cache's, cache/, composed by
// caching-store.ts), which override only the calls they change.
import type {
  AttachedDocuments,
  BoundRolesQuery,
  ChildDocumentsQuery,
  ConsumerAcknowledgement,
  ConsumerCreate,
  ConsumerDelete,
  ConsumerWrite,
  GrantPoint,
  GrantQuery,
  ListedName,
  ListedPolicy,
  PolicyQuery,
  ResourceDocuments,
  Store,
  StoredConsumer,
  UnreadablePolicy,
} from "./store.js";

/** The arguments of a Store method: a decorator overrides one without restating its signature. */
export type Args<K extends keyof Store> = Store[K] extends (...args: infer A) => unknown ? A : never;

export class ForwardingStore implements Store {
  constructor(protected readonly inner: Store) {}

  get writtenSequence(): number {
    return this.inner.writtenSequence;
  }

  getResource(...args: Args<"getResource">): ReturnType<Store["getResource"]> {
    return this.inner.getResource(...args);
  }

  listResources(...args: Args<"listResources">): ReturnType<Store["listResources"]> {
    return this.inner.listResources(...args);
  }

  searchResources(...args: Args<"searchResources">): ReturnType<Store["searchResources"]> {
    return this.inner.searchResources(...args);
  }

  createResources(...args: Args<"createResources">): ReturnType<Store["createResources"]> {
    return this.inner.createResources(...args);
  }

  updateResource(...args: Args<"updateResource">): ReturnType<Store["updateResource"]> {
    return this.inner.updateResource(...args);
  }

  deleteResource(...args: Args<"deleteResource">): ReturnType<Store["deleteResource"]> {
    return this.inner.deleteResource(...args);
  }

  getPolicy(...args: Args<"getPolicy">): ReturnType<Store["getPolicy"]> {
    return this.inner.getPolicy(...args);
  }

  ancestry(...args: Args<"ancestry">): ReturnType<Store["ancestry"]> {
    return this.inner.ancestry(...args);
  }

  listPolicies(query: PolicyQuery & { namesOnly: true }): Promise<ListedName[]>;
  listPolicies(query: PolicyQuery): Promise<readonly (ListedPolicy | UnreadablePolicy)[]>;
  listPolicies(query: PolicyQuery & { namesOnly?: true }): Promise<ListedName[] | readonly (ListedPolicy | UnreadablePolicy)[]> {
    return query.namesOnly ? this.inner.listPolicies({ ...query, namesOnly: true }) : this.inner.listPolicies(query);
  }

  listGrantPoints(query: GrantQuery): Promise<GrantPoint[]>;
  listGrantPoints(query: BoundRolesQuery): Promise<string[]>;
  listGrantPoints(query: GrantQuery | BoundRolesQuery): Promise<GrantPoint[] | string[]> {
    return "boundRoles" in query ? this.inner.listGrantPoints(query) : this.inner.listGrantPoints(query);
  }

  listSubtree(...args: Args<"listSubtree">): ReturnType<Store["listSubtree"]> {
    return this.inner.listSubtree(...args);
  }

  updatePolicy(...args: Args<"updatePolicy">): ReturnType<Store["updatePolicy"]> {
    return this.inner.updatePolicy(...args);
  }

  listDocuments(kind: string, resource: string, key?: string): Promise<AttachedDocuments | undefined>;
  listDocuments(kind: string, query: ChildDocumentsQuery): Promise<ResourceDocuments[]>;
  listDocuments(
    kind: string,
    at: string | ChildDocumentsQuery,
    key?: string,
  ): Promise<AttachedDocuments | undefined | ResourceDocuments[]> {
    return typeof at === "string" ? this.inner.listDocuments(kind, at, key) : this.inner.listDocuments(kind, at);
  }

  updateDocument(...args: Args<"updateDocument">): ReturnType<Store["updateDocument"]> {
    return this.inner.updateDocument(...args);
  }

  listLinks(...args: Args<"listLinks">): ReturnType<Store["listLinks"]> {
    return this.inner.listLinks(...args);
  }

  updateLink(...args: Args<"updateLink">): ReturnType<Store["updateLink"]> {
    return this.inner.updateLink(...args);
  }

  latestSequence(...args: Args<"latestSequence">): ReturnType<Store["latestSequence"]> {
    return this.inner.latestSequence(...args);
  }

  changesSince(...args: Args<"changesSince">): ReturnType<Store["changesSince"]> {
    return this.inner.changesSince(...args);
  }

  listAuditRecords(...args: Args<"listAuditRecords">): ReturnType<Store["listAuditRecords"]> {
    return this.inner.listAuditRecords(...args);
  }

  readChanges(...args: Args<"readChanges">): ReturnType<Store["readChanges"]> {
    return this.inner.readChanges(...args);
  }

  pruneChanges(...args: Args<"pruneChanges">): ReturnType<Store["pruneChanges"]> {
    return this.inner.pruneChanges(...args);
  }

  writeConsumer(write: ConsumerCreate): Promise<StoredConsumer>;
  writeConsumer(write: ConsumerAcknowledgement): Promise<StoredConsumer>;
  writeConsumer(write: ConsumerDelete): Promise<undefined>;
  writeConsumer(write: ConsumerWrite): Promise<StoredConsumer | undefined> {
    if ("create" in write) return this.inner.writeConsumer(write);
    return "delete" in write ? this.inner.writeConsumer(write) : this.inner.writeConsumer(write);
  }

  consumerChanges(...args: Args<"consumerChanges">): ReturnType<Store["consumerChanges"]> {
    return this.inner.consumerChanges(...args);
  }

  listResourceFailures(...args: Args<"listResourceFailures">): ReturnType<Store["listResourceFailures"]> {
    return this.inner.listResourceFailures(...args);
  }

  importRecords(...args: Args<"importRecords">): ReturnType<Store["importRecords"]> {
    return this.inner.importRecords(...args);
  }

  openSnapshot(...args: Args<"openSnapshot">): ReturnType<Store["openSnapshot"]> {
    return this.inner.openSnapshot(...args);
  }

  pageTokenKey(...args: Args<"pageTokenKey">): ReturnType<Store["pageTokenKey"]> {
    return this.inner.pageTokenKey(...args);
  }

  stats(...args: Args<"stats">): ReturnType<Store["stats"]> {
    return this.inner.stats(...args);
  }

  close(...args: Args<"close">): ReturnType<Store["close"]> {
    return this.inner.close(...args);
  }
}
