// The entry point of the `policy` command (bin/policy.js imports it through tsx): run, then exit with the status.
import { main } from "./cli.js";

process.exitCode = await main(process.argv.slice(2));
