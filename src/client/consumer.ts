// runConsumer(): the loop of a downstream system that applies policies (an enforcement point's agent). It registers
// the consumer (or finds it), follows Watch from its acknowledged sequence, calls `apply` for each change in its
// scope, and acknowledges as it goes: a change whose `apply` threw is reported as a failure (the policy shows
// FAILED), retried later, and resolved when a retry succeeds. A consumer that has never acknowledged, or whose
// position is older than the retained log, first calls `snapshot` to load the current state.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Change } from "../../gen/policy/v1/watch_service_pb.js";
import type { Consumer } from "../../gen/policy/v1/sync_service_pb.js";
import type { PolicyClient } from "./client.js";
import { watch } from "./watch.js";

export interface ConsumerOptions {
  /** `consumers/{id}`. */
  name: string;
  /** The scope, used when the consumer is registered here (an existing consumer keeps its own). */
  subtree?: string;
  resourceTypes?: string[];
  displayName?: string;
  /** Applies one change; throw to report a failure (the message is shown in the sync status). */
  apply(change: Change): Promise<void> | void;
  /** Loads the whole current state of the scope (when starting fresh, or after too long away). */
  snapshot?(): Promise<void> | void;
  /** Acknowledge at most this often (default 200 ms); also on every progress event. */
  ackIntervalMs?: number;
  /** Retry failed changes this often (default 5000 ms). */
  retryIntervalMs?: number;
  signal?: AbortSignal;
  /** Called after each acknowledgement, with the consumer as the server returned it. */
  onAcknowledge?(consumer: Consumer): void;
}

/** Runs until `signal` aborts; rejects on an error that a reconnect cannot fix. */
export async function runConsumer(client: PolicyClient, options: ConsumerOptions): Promise<void> {
  const consumer = await ensureConsumer(client, options);
  let position = consumer.acknowledgedSequence;
  let acknowledged = position;
  const failures = new Map<string, { change: Change; message: string }>();
  let reported = new Set<string>();
  let resolved = new Set<string>();
  let lastAck = 0;
  let lastRetry = Date.now();

  const acknowledge = async () => {
    const fresh = [...failures].filter(([resource]) => !reported.has(resource));
    if (position === acknowledged && fresh.length === 0 && resolved.size === 0) return;
    const response = await client.sync.acknowledgeChanges({
      consumer: options.name,
      sequence: position,
      failures: fresh.map(([resource, f]) => ({ resource, sequence: f.change.sequence, message: f.message })),
      resolved: [...resolved],
    });
    acknowledged = position;
    for (const [resource] of fresh) reported.add(resource);
    resolved = new Set();
    lastAck = Date.now();
    if (response.consumer) options.onAcknowledge?.(response.consumer);
  };

  const tryApply = async (change: Change) => {
    try {
      await options.apply(change);
      if (failures.delete(change.resource) && reported.delete(change.resource)) resolved.add(change.resource);
    } catch (e) {
      failures.set(change.resource, { change, message: e instanceof Error ? e.message : String(e) });
      reported.delete(change.resource);
    }
  };

  let fresh = position === 0n;
  for (;;) {
    try {
      let startup = fresh;
      for await (const event of watch(client.watch, {
        afterSequence: fresh ? undefined : position,
        subtree: consumer.subtree,
        resourceTypes: consumer.resourceTypes,
        signal: options.signal,
        progressInterval: { seconds: 1n },
      })) {
        if (startup && event.kind === "progress") {
          // Starting fresh: the stream's first position, then the state at (or after) it.
          await options.snapshot?.();
          startup = false;
        }
        if (event.kind === "change") await tryApply(event.change);
        position = event.sequence;
        if (Date.now() - lastRetry > (options.retryIntervalMs ?? 5000)) {
          lastRetry = Date.now();
          for (const { change } of [...failures.values()]) await tryApply(change);
        }
        if (event.kind === "progress" || Date.now() - lastAck > (options.ackIntervalMs ?? 200)) await acknowledge();
      }
      if (options.signal?.aborted) {
        await acknowledge().catch(() => undefined);
        return;
      }
    } catch (e) {
      const error = ConnectError.from(e);
      if (error.code !== Code.OutOfRange) throw error;
      // Away for longer than the retained log: start again from the current state.
      fresh = true;
      failures.clear();
      reported = new Set();
    }
  }
}

/** The consumer `options.name`, registered with the options' scope when it does not exist yet. */
export async function ensureConsumer(
  client: PolicyClient,
  options: Pick<ConsumerOptions, "name" | "subtree" | "resourceTypes" | "displayName">,
): Promise<Consumer> {
  try {
    return await client.sync.getConsumer({ name: options.name });
  } catch (e) {
    if (ConnectError.from(e).code !== Code.NotFound) throw e;
    return client.sync.createConsumer({
      consumer: {
        name: options.name,
        subtree: options.subtree ?? "",
        resourceTypes: options.resourceTypes ?? [],
        displayName: options.displayName ?? "",
      },
    });
  }
}
