// `npm run bench:startup`: how long the server takes from process start to serving (both ports bound, the listening
// line printed) by `npm start` (npm, its staleness check, then the compiled server), compiled (`node dist/src/main.js`)
// and through tsx; how long npm start's staleness check takes when the build is current; and how long the `policy`
// CLI takes for --version and for one call, as installed (the CLI package's bundle) and through tsx (bin/policy.js).
// Medians of several runs; results go to stdout and the "Start-up" section of docs/benchmarks.md.
import { execFileSync, spawn } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../test/helpers/child-server.js";
import { tempDir } from "../test/helpers/temp-dir.js";
import { writeDocSection } from "./doc-section.js";

const { values: flags } = parseArgs({ options: { quick: { type: "boolean" }, runs: { type: "string" } } });
const runs = Number(flags.runs ?? (flags.quick ? 3 : 7));
const dir = tempDir("policy-bench-startup-");
const LISTENING = /policy server listening on (\S+) /;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Milliseconds from spawn to the listening line, and from SIGTERM to exit; resolves the URL while it runs. */
async function startOnce(command: readonly string[], db: string, whileRunning?: (url: string) => Promise<void>): Promise<{ start: number; stop: number }> {
  const started = performance.now();
  const [file, ...args] = command;
  const child = spawn(file!, [...args, "--port", "0", "--grpc-port", "0", "--db", db, "--log-level", "warn"], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "ignore"],
  });
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = LISTENING.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
  const start = performance.now() - started;
  await whileRunning?.(url);
  const stopping = performance.now();
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
  return { start, stop: performance.now() - stopping };
}

function timeCommand(file: string, args: string[]): number {
  const started = performance.now();
  execFileSync(file, args, { cwd: REPO_ROOT, stdio: "ignore", env: { ...process.env, POLICY_CONFIG: "" } });
  return performance.now() - started;
}

console.error("building dist/ and the CLI package ...");
execFileSync(process.execPath, ["--import", "tsx", "scripts/build.ts"], { cwd: REPO_ROOT, stdio: "inherit" });

const lines: string[] = [];
const say = (line: string) => {
  lines.push(line);
  console.log(line);
};
say(
  `Measured on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, Node ${process.version}; median of ${runs} runs; ` +
    `load average ${loadavg()[0]!.toFixed(1)} at the start.`,
);
say("");
say("| what | command | median ms | min ms |");
say("| --- | --- | ---: | ---: |");

/** Rows of commands timed while one compiled server runs: [what, command, cells]. */
const cliRows: [string, string, string][] = [];
for (const [label, command] of [
  ["`npm start`, built (npm, the staleness check, the server)", ["npm", "start", "--silent", "--"]],
  ["server, compiled (`node dist/src/main.js`, what `npm start` runs)", [process.execPath, "dist/src/main.js"]],
  ["server, through tsx", [process.execPath, "--import", "tsx", "src/main.ts"]],
] as const) {
  const starts: number[] = [];
  const stops: number[] = [];
  for (let i = 0; i < runs; i++) {
    const db = join(dir, `${i}-${label.length}.db`);
    const { start, stop } = await startOnce(command, db, async (url) => {
      if (i > 0 || !label.startsWith("server, compiled")) return;
      // One running compiled server for the CLI rows.
      for (const [name, file, cliArgs] of [
        ["`node -e 0` (the floor: node's own start)", process.execPath, ["-e", "0"]],
        ["`node scripts/build-if-stale.mjs` (the staleness check of `npm start`, with dist/ current)", process.execPath, ["scripts/build-if-stale.mjs"]],
        ["`policy --version`, installed (bundle)", process.execPath, ["packages/cli/dist/policy.js", "--version"]],
        ["`policy --version`, through tsx", process.execPath, ["bin/policy.js", "--version"]],
        ["`policy resources list`, installed (bundle)", process.execPath, ["packages/cli/dist/policy.js", "resources", "list", "--server", url]],
        ["`policy resources list`, through tsx", process.execPath, ["bin/policy.js", "resources", "list", "--server", url]],
      ] as const) {
        const times = Array.from({ length: runs }, () => timeCommand(file, [...cliArgs]));
        cliRows.push([name.includes("staleness") ? "prestart" : "CLI", name, `${median(times).toFixed(0)} | ${Math.min(...times).toFixed(0)}`]);
      }
    });
    starts.push(start);
    stops.push(stop);
  }
  say(`| start to serving | ${label} | ${median(starts).toFixed(0)} | ${Math.min(...starts).toFixed(0)} |`);
  say(`| SIGTERM to exit | ${label} | ${median(stops).toFixed(0)} | ${Math.min(...stops).toFixed(0)} |`);
}
for (const [what, name, cells] of cliRows) say(`| ${what} | ${name} | ${cells} |`);

writeDocSection("Start-up (`npm run bench:startup`)", lines.join("\n"));
