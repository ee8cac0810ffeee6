// Runs the server as a separate process (`node --import tsx src/main.ts`), for tests that must signal or kill it.
// tsx's own CLI would run the server in a grandchild that SIGKILL of the CLI leaves running, so node loads tsx directly.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

// A guard against a server that never starts, not a speed bound: through tsx on a busy 2-core machine a start has
// taken over 20 s.
const STARTUP_LIMIT_MS = 60_000;
const LISTENING = /policy server listening on (\S+) \(database .*\); gRPC port (\d+)/;

export interface ChildServer {
  url: string;
  grpcAddress: string;
  process: ChildProcess;
  /** Everything the process wrote to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<number | NodeJS.Signals | null>;
  /** Sends `signal` (if still running) and waits for the exit; SIGKILL after `limitMs`. */
  stop(signal?: NodeJS.Signals, limitMs?: number): Promise<number | NodeJS.Signals | null>;
}

/**
 * Runs `src/main.ts` as a child process (node loads tsx itself, so that signals reach the server and not a wrapper)
 * on free ports; resolves once it prints its listening line.
 */
export function spawnServer(db: string, args: string[] = []): Promise<ChildServer> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "src/main.ts", "--host", "127.0.0.1", "--port", "0", "--grpc-port", "0", "--db", db, ...args],
    { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once("exit", (code, signal) => resolve(signal ?? code)),
  );
  const stop = async (signal: NodeJS.Signals = "SIGTERM", limitMs = 20_000) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`server did not start within ${STARTUP_LIMIT_MS} ms:\n${stdout}\n${stderr}`));
    }, STARTUP_LIMIT_MS);
    const onData = () => {
      const match = LISTENING.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      const url = match[1]!;
      resolve({
        url,
        grpcAddress: `${new URL(url).hostname}:${match[2]}`,
        process: child,
        stdout: () => stdout,
        stderr: () => stderr,
        exited,
        stop,
      });
    };
    child.stdout!.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening:\n${stdout}\n${stderr}`));
    });
  });
}

export interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `src/main.ts` with `args` for a start-up that is expected to fail; resolves when it exits. */
export function runServerToExit(args: string[]): Promise<Exit> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      ["--import", "tsx", "src/main.ts", "--log-level", "silent", ...args],
      { cwd: REPO_ROOT, timeout: STARTUP_LIMIT_MS, killSignal: "SIGKILL" },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr }),
    ),
  );
}
