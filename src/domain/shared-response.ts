// A Watch response that many streams send: its bytes, made once, and its message, made only for a stream that needs
// the message itself (a JSON client, an in-process reader). A binary client gets the bytes: the gRPC port sends them
// as they are, and the main port copies them (carried as unknown fields, carrierOf) instead of encoding per stream.
// Most followers are binary, so most shared responses never become messages: the message (its parts created, then
// deep-frozen so that no reader can change what the next one sees) had cost more than its encoding.
import { WatchResponseSchema, type WatchResponse } from "../../gen/policy/v1/watch_service_pb.js";
import { carrierOf, rememberEncoding } from "../frozen-encoding.js";
import { deepFreeze } from "../frozen-value.js";

export class SharedResponse {
  private made: WatchResponse | undefined;
  private carried: WatchResponse | undefined;

  constructor(
    /** The response's encoding. */
    readonly encoded: Uint8Array,
    /** Makes the response (a message whose encoding is exactly `encoded`), once, when a stream needs it. */
    private readonly make: () => WatchResponse,
  ) {}

  /** The response, frozen (shared by every stream that asks). */
  get message(): WatchResponse {
    if (!this.made) {
      this.made = deepFreeze(this.make());
      rememberEncoding(this.made, this.encoded);
    }
    return this.made;
  }

  /** A message carrying the bytes, for a binary codec (frozen-encoding.ts, carrierOf). */
  get carrier(): WatchResponse {
    return (this.carried ??= carrierOf<WatchResponse>(WatchResponseSchema, this.encoded));
  }
}
