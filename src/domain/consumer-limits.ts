// The bounds on what a consumer's owner can make the service keep (docs/operations.md#limits): consumers per
// organization (and, for administrators' consumers of every resource, per server), failures each consumer keeps, and
// the size of one acknowledgement. Past one the call is RESOURCE_EXHAUSTED naming the limit, and nothing is written.
import { ServiceError, quoted } from "../service-error.js";

export interface ConsumerLimits {
  /** Consumers whose subtree is in one organization (one root resource), counted where it was when registered. */
  perOrganization: number;
  /** Consumers without a subtree (of every resource; administrators only), per server. */
  unscoped: number;
  /** Unresolved failures one consumer keeps. */
  failuresPerConsumer: number;
  /** Failures in one AcknowledgeChanges request; resolved resources, the same. */
  perAcknowledgement: number;
  /** Characters of one failure's message. */
  messageLength: number;
}

export const CONSUMER_LIMITS: ConsumerLimits = {
  perOrganization: 100,
  unscoped: 100,
  failuresPerConsumer: 1000,
  perAcknowledgement: 1000,
  messageLength: 1000,
};

/** RESOURCE_EXHAUSTED for a registration past its organization's (or, without a subtree, the server's) bound. */
export function tooManyConsumers(root: string, count: number, limits: ConsumerLimits): ServiceError {
  return root === ""
    ? new ServiceError(
        "resource_exhausted",
        `the server has ${count} consumers without a subtree, the most it keeps (limit: ${limits.unscoped} consumers ` +
          `without a subtree per server); delete one, or give the new one a subtree`,
      )
    : new ServiceError(
        "resource_exhausted",
        `organization ${quoted(root)} has ${count} consumers, the most one organization keeps (limit: ` +
          `${limits.perOrganization} consumers per organization); delete one first`,
      );
}

/** RESOURCE_EXHAUSTED for an acknowledgement that would leave a consumer with more failures than it may keep. */
export function tooManyFailures(consumer: string, after: number, limits: ConsumerLimits): ServiceError {
  return new ServiceError(
    "resource_exhausted",
    `consumer ${quoted(consumer)} would keep ${after} unresolved failures (limit: ${limits.failuresPerConsumer} ` +
      `failures per consumer); resolve some, or report fewer`,
    [{ field: "failures", description: `at most ${limits.failuresPerConsumer} unresolved failures per consumer` }],
  );
}

/** RESOURCE_EXHAUSTED for an acknowledgement that lists more than one may. */
export function tooLongAcknowledgement(field: "failures" | "resolved", count: number, limits: ConsumerLimits): ServiceError {
  return new ServiceError(
    "resource_exhausted",
    `${field}: ${count} listed (limit: ${limits.perAcknowledgement} ${field} per acknowledgement); send the rest in ` +
      `another AcknowledgeChanges`,
    [{ field, description: `at most ${limits.perAcknowledgement} per acknowledgement` }],
  );
}
