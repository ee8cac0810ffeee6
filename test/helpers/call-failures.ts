// Expected failures, shared by every test folder.
import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";
import { BadRequestSchema, type BadRequest_FieldViolation } from "../../gen/google/rpc/error_details_pb.js";
import { pause } from "./wait.js";

/** The ConnectError `call` failed with; fails the test when the call succeeded. */
export async function failureOf(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (e) {
    return ConnectError.from(e);
  }
  return expect.fail("expected the call to fail, but it succeeded");
}

/** Asserts that `call` fails with `code` (and a message matching `message`); returns the error. */
export async function expectCode(call: Promise<unknown>, code: Code, message?: RegExp): Promise<ConnectError> {
  const error = await failureOf(call);
  expect(Code[error.code], error.message).toBe(Code[code]);
  if (message) expect(error.rawMessage).toMatch(message);
  return error;
}

/** The field violations of the google.rpc.BadRequest detail of `error`. */
export function fieldViolations(error: ConnectError): BadRequest_FieldViolation[] {
  return error.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations);
}

/** Retries `call` until it succeeds, as a client does through an outage; every failure meanwhile must be UNAVAILABLE. */
export async function retryWhileUnavailable<T>(call: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (e) {
      const error = ConnectError.from(e);
      expect(Code[error.code], error.message).toBe(Code[Code.Unavailable]);
      // A client's pause before retrying UNAVAILABLE.
      await pause(50);
    }
  }
}
