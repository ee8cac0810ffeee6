// The parts a CPU profile's time is grouped into, in order (the first whose test matches a frame's url wins): the
// shares bench/profile.ts prints and the colours of bench/flamegraph.ts.
export interface ProfilePart {
  /** As the profile's report names it. */
  name: string;
  /** As the flame graph's legend names it. */
  short: string;
  colour: string;
  test: (url: string) => boolean;
}

export const PROFILE_PARTS: readonly ProfilePart[] = [
  { name: "call log (pino, its writes)", short: "pino", colour: "#e6a0c4", test: (url) => /\/(pino|sonic-boom)\//.test(url) },
  { name: "metrics (prom-client)", short: "prom-client", colour: "#c39bd3", test: (url) => url.includes("/prom-client/") },
  {
    name: "SQLite (better-sqlite3 and the store's SQL)",
    short: "SQLite",
    colour: "#f0b27a",
    test: (url) => url.includes("/better-sqlite3/") || url.includes("/store/sqlite/"),
  },
  { name: "protobuf-es (create, encode, decode)", short: "protobuf-es", colour: "#f7dc6f", test: (url) => url.includes("/@bufbuild/protobuf/") },
  { name: "our code (src/)", short: "our src/", colour: "#82e0aa", test: (url) => url.includes("/src/") && !url.includes("node_modules") },
  { name: "grpc-js (with the http2 work it calls)", short: "grpc-js", colour: "#85c1e9", test: (url) => url.includes("/@grpc/grpc-js/") },
  { name: "Node (http2, streams, timers)", short: "Node", colour: "#f1948a", test: (url) => url.startsWith("node:") },
];
