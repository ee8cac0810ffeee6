// Runs the server as a separate process (`node --import tsx src/main.ts`), for tests that must kill it.
// tsx's own CLI would run the server in a grandchild that SIGKILL of the CLI leaves running, so node loads tsx directly.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

const STARTUP_LIMIT_MS = 20_000;
const LISTENING = /policy server listening on (\S+) \(database /;

export interface ChildServer {
  url: string;
  process: ChildProcess;
  /** Resolves with the exit signal (or code) once the process has exited. */
  exited: Promise<NodeJS.Signals | number | null>;
  /** Sends `signal` and waits for the process to exit. */
  kill(signal: NodeJS.Signals): Promise<NodeJS.Signals | number | null>;
}

export function spawnServer(db: string, args: string[] = []): Promise<ChildServer> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "src/main.ts", "--port", "0", "--db", db, "--log-level", "warn", ...args],
    { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once("exit", (code, signal) => resolve(signal ?? code)),
  );
  let output = "";
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${why}; output:\n${output}`));
    };
    const timer = setTimeout(() => fail(`server did not start within ${STARTUP_LIMIT_MS} ms`), STARTUP_LIMIT_MS);
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = LISTENING.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.removeAllListeners("data");
      child.stdout!.resume();
      resolve({
        url: match[1]!,
        process: child,
        exited,
        async kill(signal) {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    });
    child.once("exit", (code, signal) => fail(`server exited (${signal ?? code}) before listening`));
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
