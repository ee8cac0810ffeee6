// The held-connections flood (bench/attacks/held-connections.ts) in a process of its own: `--port N --from ADDRESS`.
// Prints `established` once every connection has been tried; on SIGTERM lets go of its connections and prints its
// FloodStats as one JSON line.
import { parseArgs } from "node:util";
import { FLOOD_CONNECTIONS, holdConnections } from "./attacks/held-connections.js";

const { values } = parseArgs({ options: { port: { type: "string" }, from: { type: "string" } } });
const stop = new AbortController();
const flood = holdConnections({ port: Number(values.port), connections: FLOOD_CONNECTIONS, from: values.from! }, stop.signal);
void flood.established.then(() => process.stdout.write("established\n"));
process.once("SIGTERM", () => {
  const stats = { ...flood.stats };
  stop.abort();
  void flood.done.then(() => {
    process.stdout.write(`${JSON.stringify(stats)}\n`);
    process.exit(0);
  });
});
