// What a command runs with: its parsed options, the settings, the resource types, a client (made on first use) and
// the output streams.
import { readFileSync } from "node:fs";
import { text } from "node:stream/consumers";
import { createPolicyClient, type PolicyClient } from "../client/index.js";
import type { Values } from "./args.js";
import { CliError } from "./errors.js";
import type { ResourceTypes } from "./resource-types.js";
import type { Settings } from "./settings.js";

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdin: () => Promise<string>;
}

export const processIo: Io = {
  stdout: (t) => process.stdout.write(t.endsWith("\n") ? t : `${t}\n`),
  stderr: (t) => process.stderr.write(t.endsWith("\n") ? t : `${t}\n`),
  stdin: () => text(process.stdin),
};

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new CliError(`cannot read the ${what} ${file}: ${(e as Error).message}`);
  }
}

export class Context {
  private client?: PolicyClient;

  constructor(
    /** The command as typed, e.g. `resources create`. */
    readonly command: string,
    readonly values: Values,
    readonly settings: Settings,
    readonly types: ResourceTypes,
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
