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
  });
  expect(fieldProblem(problem, "policy.bindings[1].members[0]")).toBe("not a member");
  expect(bindingField("policy.bindings[1].members[0]")).toEqual({ binding: 1, rest: ".members[0]" });
});

test("any other error keeps its message", () => {
  expect(problemOf(new Error("socket hang up"))).toMatchObject({ code: "UNKNOWN", message: "socket hang up", fields: [] });
  expect(problemOf(new ConnectError("stale", Code.Aborted)).code).toBe("ABORTED");
});
