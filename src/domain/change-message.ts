// A change as Watch sends it, made once per change and shared by every stream that sends it (the feed's window hands
// all of them the same record): its message, its response and the response's bytes (the gRPC port sends those, and
// the window's byte bound counts them).
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ChangeSchema, WatchResponseSchema, type Change, type WatchResponse } from "../../gen/policy/v1/watch_service_pb.js";
import type { ChangeRecord } from "../store/store.js";
import { encodingOf } from "../frozen-encoding.js";
import { deepFreeze } from "../frozen-value.js";
import { policyForVersion } from "./policy-read.js";
import { kindOf } from "./watch-visibility.js";

/** The change as the API shows it. */
export function changeMessage(change: ChangeRecord): Change {
  return create(ChangeSchema, {
    sequence: BigInt(change.seq),
    commitTime: timestampFromMs(change.timeMs),
    principal: change.principal,
    kind: kindOf(change),
    resource: change.resource,
    resourceType: change.resourceType,
    parent: change.parent,
    previousParent: change.previousParent ?? "",
    policy: change.policy && policyForVersion(change.policy, 3),
    denyPolicy: change.denyPolicy,
    role: change.role,
    sharedPolicy: change.sharedPolicy,
    sharedPolicyBinding: change.sharedPolicyBinding,
  });
}

const responses = new WeakMap<ChangeRecord, WatchResponse>();

/** The one-change response of a change, frozen (so encoded at most once). */
export function responseOf(change: ChangeRecord): WatchResponse {
  let response = responses.get(change);
  if (!response) {
    response = deepFreeze(create(WatchResponseSchema, { event: { case: "change", value: changeMessage(change) } }));
    responses.set(change, response);
  }
  return response;
}

/** The frozen Change message of a change (the one inside its response). */
export function sharedChangeOf(change: ChangeRecord): Change {
  return responseOf(change).event.value as Change;
}

/** The bytes of a change as sent alone: what the feed's window counts. */
export function encodedSizeOf(change: ChangeRecord): number {
  return encodingOf(WatchResponseSchema, responseOf(change)).length;
}
