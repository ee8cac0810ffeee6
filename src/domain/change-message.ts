// A change as Watch sends it, made once per change and shared by every stream that sends it (the feed's window hands
// all of them the same record): its one-change response's bytes (what the window's byte bound counts, and what a
// batch is put together from), and that response as a message only when a stream needs the message (shared-response.ts).
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ChangeSchema, WatchResponseSchema, type Change, type WatchResponse } from "../../gen/policy/v1/watch_service_pb.js";
import type { ChangeRecord } from "../store/store.js";
import { policyForVersion } from "./policy-read.js";
import { SharedResponse } from "./shared-response.js";
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

function changeResponse(change: ChangeRecord): WatchResponse {
  return create(WatchResponseSchema, { event: { case: "change", value: changeMessage(change) } });
}

const responses = new WeakMap<ChangeRecord, SharedResponse>();

/** The one-change response of a change: its bytes encoded from a message made for that alone, once. */
export function responseOf(change: ChangeRecord): SharedResponse {
  let response = responses.get(change);
  if (!response) {
    // A record does not change once read: the message made later for a stream encodes to these same bytes.
    response = new SharedResponse(toBinary(WatchResponseSchema, changeResponse(change)), () => changeResponse(change));
    responses.set(change, response);
  }
  return response;
}

/** The frozen Change message of a change (the one inside its response, made when first asked for). */
export function sharedChangeOf(change: ChangeRecord): Change {
  return responseOf(change).message.event.value as Change;
}

/** The bytes of a change as sent alone: what the feed's window counts. */
export function encodedSizeOf(change: ChangeRecord): number {
  return responseOf(change).encoded.length;
}
