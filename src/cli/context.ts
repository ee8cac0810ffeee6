// What a command runs with: its parsed options, the settings, the resource schema, a client (made on first use) and
// the output streams.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { text } from "node:stream/consumers";
import { createPolicyClient, type PolicyClient } from "../client/index.js";
import type { ResourceSchema } from "../schema/schema.js";
import { loadSchema } from "../schema-file.js";
import type { Values } from "./args.js";
import { SchemaError } from "../schema/schema-loader.js";
import { LocalError } from "./command-errors.js";
import type { Settings } from "./settings.js";

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdin: () => Promise<string>;
  /** Asks a yes/no question on the terminal; undefined when there is no terminal to ask on (a script, a pipe). */
  confirm: (question: string) => Promise<boolean> | undefined;
}

export const processIo: Io = {
  stdout: (t) => process.stdout.write(t.endsWith("\n") ? t : `${t}\n`),
  stderr: (t) => process.stderr.write(t.endsWith("\n") ? t : `${t}\n`),
  stdin: () => text(process.stdin),
  confirm: (question) => {
    if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined;
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    return rl
      .question(`${question} [y/N] `)
      .then((answer) => /^y(es)?$/i.test(answer.trim()))
      .finally(() => rl.close());
  },
};

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new LocalError(`cannot read the ${what} ${file}: ${(e as Error).message}`);
  }
}

/** The schema the server would load from `file` (default: the built-in one); a schema it refuses, the CLI refuses too. */
export function schemaOf(file: string | undefined): ResourceSchema {
  try {
    return loadSchema(file);
  } catch (e) {
    if (e instanceof SchemaError) throw new LocalError(e.message);
    throw new LocalError(`schema ${file ?? "default.yaml"}: ${(e as Error).message.split("\n")[0]}`);
  }
}

export class Context {
  private client?: PolicyClient;

  constructor(
    /** The command as typed, e.g. `resources create`. */
    readonly command: string,
    readonly values: Values,
    readonly settings: Settings,
    readonly schema: ResourceSchema,
    readonly io: Io,
  ) {}

  get api(): PolicyClient {
    if (!this.client) {
      const { ca, cert, key } = this.settings;
      this.client = createPolicyClient({
        baseUrl: this.settings.server,
        protocol: this.settings.protocol,
        token: this.settings.token,
        tls: {
          ca: ca === undefined ? undefined : read(ca, "CA file (--ca)"),
          cert: cert === undefined ? undefined : read(cert, "client certificate (--cert)"),
          key: key === undefined ? undefined : read(key, "client key (--key)"),
        },
      });
    }
    return this.client;
  }

  close(): void {
    this.client?.close();
  }
}
