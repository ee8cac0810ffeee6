// The server as `npm start` runs it: compiled to dist/ (built here when a source is newer than the build, as npm's
// prestart does) and run by plain node, without tsx's loader. Benchmarks measure what users run.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { build, isStale } from "../scripts/build.js";

export const SERVER_ENTRY = "dist/src/main.js";

/** Builds dist/ if stale; returns the node arguments that start the server as `npm start` does. */
export async function builtServerArgs(): Promise<string[]> {
  if (isStale()) await build({ packages: false });
  return [SERVER_ENTRY];
}

export interface BuiltServer {
  process: ChildProcess;
  /** The main port's URL. */
  main: string;
  /** The gRPC port's URL (http://127.0.0.1:port). */
  grpc: string;
  /** Sends SIGTERM and waits for the exit. */
  stop(): Promise<void>;
}

const LISTENING = /listening on (\S+) .*gRPC port (\d+)/;

/** Starts the built server with `args` (and `nodeFlags` before the entry, e.g. --cpu-prof); resolves once it listens. */
export async function startBuiltServer(args: string[], nodeFlags: string[] = []): Promise<BuiltServer> {
  const child = spawn(process.execPath, [...nodeFlags, ...(await builtServerArgs()), ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const [, main, grpcPort] = await new Promise<RegExpExecArray>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = LISTENING.exec(out);
      if (match) resolve(match);
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
  // Keeps reading (and dropping) the call log, as whatever collects a server's stdout does.
  child.stdout!.removeAllListeners("data");
  child.stdout!.resume();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    process: child,
    main: main!,
    grpc: `http://127.0.0.1:${grpcPort}`,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** CPU seconds (user + system) used so far by a process and its children (cluster workers). */
export function cpuSecondsOfTree(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name: state is field 3, utime 14 and stime 15, in clock ticks (100 per second).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100 + childrenOf(pid).reduce((sum, child) => sum + cpuSecondsOfTree(child), 0);
}

/** RSS of a process and its children (cluster workers), in MB. */
export function rssMbOfTree(pid: number): number {
  const own = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  return own + childrenOf(pid).reduce((sum, child) => sum + rssMbOfTree(child), 0);
}

function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
}
