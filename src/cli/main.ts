// The entry point of the `policy` command (bin/policy.js, dist/src/cli/main.js, the CLI package's bundle).
// `--version` answers before the commands are loaded, so that it stays well under 300 ms.
import { cliVersion } from "./version.js";

// connect-node stops listening for a connection's errors once connecting failed, and a server that does not speak
// HTTP/2 then makes node raise a second ERR_HTTP2_ERROR as uncaught: the failure was reported already.
process.on("uncaughtException", (error: Error & { code?: unknown }) => {
  if (error.code === "ERR_HTTP2_ERROR") return;
  console.error(error);
  process.exit(70);
});

// `policy watch | head -1`: once the reader of the output has gone, there is nobody to print for: stop quietly, with
// status 0, as a filter in a pipeline does (node ignores SIGPIPE, so the write fails with EPIPE instead).
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: Error & { code?: unknown }) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
}

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "version")) {
  process.stdout.write(`policy ${cliVersion()}\n`);
} else {
  const { main } = await import("./cli.js");
  process.exitCode = await main(argv);
}
