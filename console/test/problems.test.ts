// Server errors as the console shows them: code, message, and the fields of a google.rpc.BadRequest.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { expect, test } from "vitest";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { bindingField, fieldProblem, problemOf } from "../src/problems.js";

test("a ConnectError with field violations", () => {
  const detail = create(BadRequestSchema, { fieldViolations: [{ field: "policy.bindings[1].members[0]", description: "not a member" }] });
  const problem = problemOf(new ConnectError("policy.bindings[1].members[0]: not a member", Code.InvalidArgument, undefined, [{ desc: BadRequestSchema, value: detail }]));
  expect(problem).toEqual({
    code: "INVALID_ARGUMENT",
    message: "policy.bindings[1].members[0]: not a member",
    fields: [{ field: "policy.bindings[1].members[0]", description: "not a member" }],
    retryable: false,
  });
  expect(fieldProblem(problem, "policy.bindings[1].members[0]")).toBe("not a member");
  expect(bindingField("policy.bindings[1].members[0]")).toEqual({ binding: 1, rest: ".members[0]" });
});

test("NOT_FOUND and an unreachable server in words a console user can act on", () => {
  const missing = problemOf(new ConnectError('resource "projects/gone" not found: register it with ResourceService.CreateResource', Code.NotFound));
  expect(missing.message).toBe("projects/gone does not exist, or you may not see it. Check the name, or ask an owner of it for a role.");
  const down = problemOf(new ConnectError("Failed to fetch", Code.Unknown));
  expect(down).toMatchObject({ code: "SERVER_UNREACHABLE", retryable: true });
  expect(down.message).toContain("cannot be reached");
  expect(problemOf(new ConnectError("no", Code.Unavailable)).retryable).toBe(true);
});

test("any other error keeps its message", () => {
  expect(problemOf(new Error("socket hang up"))).toMatchObject({ code: "UNKNOWN", message: "socket hang up", fields: [] });
  expect(problemOf(new ConnectError("stale", Code.Aborted)).code).toBe("ABORTED");
});
