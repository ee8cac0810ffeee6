// modifyPolicy: IAM's recommended read-modify-write loop. Read the policy (version 3), apply a change, write it back
// with the etag that was read; when another writer got there first (ABORTED), start over after a backoff.
import { clone } from "@bufbuild/protobuf";
import { Code, ConnectError, type CallOptions, type Client } from "@connectrpc/connect";
import { PolicySchema, type Policy } from "../../gen/policy/v1/policy_pb.js";
import type { PolicyService } from "../../gen/policy/v1/policy_service_pb.js";
import type { PolicyClient } from "./client.js";

export interface ModifyPolicyOptions {
  /** How many read-modify-write cycles to try before giving up with the last ABORTED error. Default 10. */
  maxAttempts?: number;
  /** The first backoff ceiling, doubled on each retry. Default 20 ms. */
  baseDelayMs?: number;
  /** The largest backoff ceiling. Default 1000 ms. */
  maxDelayMs?: number;
  /** Fields of the policy to write (SetPolicy `update_mask`). Default, as IAM: `bindings`, `etag`. */
  updateMask?: string[];
  /** Called before each retry, with the attempt that failed (1-based), the delay chosen and the error. */
  onRetry?: (attempt: number, delayMs: number, error: ConnectError) => void;
  /** Options of every call (signal, timeoutMs, headers). An abort also stops the wait between attempts. */
  callOptions?: CallOptions;
}

export const MODIFY_POLICY_DEFAULTS = { maxAttempts: 10, baseDelayMs: 20, maxDelayMs: 1000 } as const;

/** A function that changes a policy: mutate it and return it, or return a new one. Throwing stops the loop. */
export type PolicyModifier = (policy: Policy) => Policy | Promise<Policy>;

/**
 * Reads the policy of `resource` (requested_policy_version 3), applies `modify`, and writes the result with the etag
 * that was read and version 3. On ABORTED (someone else wrote in between) the whole cycle is retried after a delay
 * drawn uniformly from [0, min(maxDelayMs, baseDelayMs * 2^(attempt-1))] ("full jitter"), at most `maxAttempts`
 * times in all. Any other error is thrown at once. Returns the stored policy, with its new etag.
 */
export async function modifyPolicy(
  client: PolicyClient | Client<typeof PolicyService>,
  resource: string,
  modify: PolicyModifier,
  options: ModifyPolicyOptions = {},
): Promise<Policy> {
  const policies = "policies" in client ? client.policies : client;
  const maxAttempts = options.maxAttempts ?? MODIFY_POLICY_DEFAULTS.maxAttempts;
  const baseDelayMs = options.baseDelayMs ?? MODIFY_POLICY_DEFAULTS.baseDelayMs;
  const maxDelayMs = options.maxDelayMs ?? MODIFY_POLICY_DEFAULTS.maxDelayMs;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError("maxAttempts must be an integer >= 1");
  const signal = options.callOptions?.signal;

  for (let attempt = 1; ; attempt++) {
    const read = await policies.getPolicy(
      { resource, options: { requestedPolicyVersion: 3 } },
      options.callOptions,
    );
    const modified = await modify(clone(PolicySchema, read));
    try {
      return await policies.setPolicy(
        {
          resource,
          policy: { ...modified, etag: read.etag, version: 3 },
          updateMask: options.updateMask ? { paths: options.updateMask } : undefined,
        },
        options.callOptions,
      );
    } catch (e) {
      const error = ConnectError.from(e);
      if (error.code !== Code.Aborted) throw e;
      if (attempt >= maxAttempts) {
        throw new ConnectError(
          `gave up after ${attempt} read-modify-write attempts on ${resource}: ${error.rawMessage}`,
          Code.Aborted,
          error.metadata,
          undefined,
          error,
        );
      }
      const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      const delayMs = Math.random() * ceiling;
      options.onRetry?.(attempt, delayMs, error);
      await sleep(delayMs, signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(ConnectError.from(signal.reason, Code.Canceled));
    const onAbort = () => {
      clearTimeout(timer);
      reject(ConnectError.from(signal!.reason, Code.Canceled));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
