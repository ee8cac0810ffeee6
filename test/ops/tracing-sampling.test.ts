// Which calls are traced: the W3C traceparent as sampling reads it, and OTEL_TRACES_SAMPLER's samplers.
import { expect, test } from "vitest";
import { callSampler, remoteParent } from "../../src/tracing/sampling.js";

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const SPAN = "b7ad6b7169203331";

test("a well-formed traceparent names its trace, its parent span and whether the caller sampled it", () => {
  expect(remoteParent(`00-${TRACE}-${SPAN}-01`)).toEqual({ traceId: TRACE, spanId: SPAN, traceFlags: 1, isRemote: true });
  expect(remoteParent(`00-${TRACE}-${SPAN}-00`)?.traceFlags).toBe(0);
  // A later version may append fields; version 00 may not.
  expect(remoteParent(`01-${TRACE}-${SPAN}-01-more`)?.traceId).toBe(TRACE);
  expect(remoteParent(` 00-${TRACE}-${SPAN}-01 `)?.spanId).toBe(SPAN);
});

test("a malformed traceparent is ignored: the call starts a trace of its own", () => {
  for (const bad of [
    "",
    "garbage",
    `00-${TRACE}-${SPAN}-01-more`,
    `ff-${TRACE}-${SPAN}-01`,
    `00-${"0".repeat(32)}-${SPAN}-01`,
    `00-${TRACE}-${"0".repeat(16)}-01`,
    `00-${TRACE.toUpperCase()}-${SPAN}-01`,
    `00-${TRACE}-${SPAN}-0x`,
    `00_${TRACE}-${SPAN}-01`,
  ]) {
    expect(remoteParent(bad), bad).toBeUndefined();
  }
});

test("the samplers decide as OTEL_TRACES_SAMPLER's do", () => {
  const sampledParent = remoteParent(`00-${TRACE}-${SPAN}-01`);
  const unsampledParent = remoteParent(`00-${TRACE}-${SPAN}-00`);
  const cases: [Parameters<typeof callSampler>[0], number, boolean[]][] = [
    // [sampler, ratio, [no parent, sampled parent, unsampled parent]]
    ["always_on", 1, [true, true, true]],
    ["always_off", 1, [false, false, false]],
    ["parentbased_always_on", 1, [true, true, false]],
    ["parentbased_always_off", 1, [false, true, false]],
    ["parentbased_traceidratio", 0, [false, true, false]],
    ["parentbased_traceidratio", 1, [true, true, false]],
    ["traceidratio", 0, [false, false, false]],
    ["traceidratio", 1, [true, true, true]],
  ];
  for (const [name, ratio, expected] of cases) {
    const sampled = callSampler(name, ratio);
    expect([sampled(undefined), sampled(sampledParent), sampled(unsampledParent)], `${name} ${ratio}`).toEqual(expected);
  }
});

test("a ratio samples a continued trace by its trace id, the same way every time", () => {
  const half = callSampler("traceidratio", 0.5);
  // The SDK's rule: the trace id's four 32-bit words XORed, against ratio × 2^32.
  const low = remoteParent(`00-${"0".repeat(31)}1-${SPAN}-01`);
  const high = remoteParent(`00-${"f".repeat(8)}${"0".repeat(23)}1-${SPAN}-01`);
  expect([half(low), half(low), half(high), half(high)]).toEqual([true, true, false, false]);
});
