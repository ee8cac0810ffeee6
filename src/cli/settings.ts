// Where the CLI connects and how it prints: flags, then environment variables, then the config file, then defaults.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import type { PolicyProtocol } from "../client/index.js";
import { str, type Values } from "./args.js";
import { LocalError, UsageError } from "./command-errors.js";
import { yamlErrorText } from "./yaml-error.js";

export const DEFAULT_SERVER = "http://127.0.0.1:8080";

export type OutputFormat = "table" | "json" | "yaml";

/** What -o/--output accepts: the formats, and `anyscale` (the table in Anyscale's style). */
export const OUTPUT_FORMATS = ["table", "json", "yaml", "anyscale"] as const;

/** Whose shapes get, list and set print: IAM's (roles/…, member prefixes) or Anyscale's policy CLI's. */
export type OutputStyle = "iam" | "anyscale";

export interface Settings {
  server: string;
  protocol: PolicyProtocol;
  token?: string;
  /** Path of a PEM file of certificates to trust. */
  ca?: string;
  /** Paths of a PEM client certificate and its key (mutual TLS). */
  cert?: string;
  key?: string;
  /** As given (`acme` or `organizations/acme`); undefined: find the only organization. */
  organization?: string;
  /** A schema YAML file; undefined: the built-in one. */
  schema?: string;
  output: OutputFormat;
  style: OutputStyle;
}

const CONFIG_KEYS = ["server", "protocol", "organization", "token", "ca", "cert", "key", "output", "style"] as const;
type ConfigFile = Partial<Record<(typeof CONFIG_KEYS)[number], string>>;

/** The config file: $POLICY_CONFIG, else $XDG_CONFIG_HOME/policy/config.yaml, else ~/.config/policy/config.yaml. */
export function configPath(env: NodeJS.ProcessEnv): { path: string; explicit: boolean } {
  if (env.POLICY_CONFIG) return { path: env.POLICY_CONFIG, explicit: true };
  const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return { path: join(base, "policy", "config.yaml"), explicit: false };
}

export function readConfigFile(env: NodeJS.ProcessEnv): ConfigFile {
  const { path, explicit } = configPath(env);
  if (!existsSync(path)) {
    if (explicit) throw new LocalError(`config file ${path} (POLICY_CONFIG) does not exist`);
    return {};
  }
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new LocalError(`config file ${path}: ${yamlErrorText(e)}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw new LocalError(`config file ${path}: expected a mapping`);
  const config: ConfigFile = {};
  for (const [key, value] of Object.entries(doc)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      throw new LocalError(`config file ${path}: unknown key "${key}"; known keys: ${CONFIG_KEYS.join(", ")}`);
    }
    if (typeof value !== "string") throw new LocalError(`config file ${path}: \`${key}\` must be a string`);
    config[key as keyof ConfigFile] = value;
  }
  return config;
}

export function loadSettings(values: Values, env: NodeJS.ProcessEnv, command: string): Settings {
  const config = readConfigFile(env);
  const pick = (flag: string, envName: string, key: keyof ConfigFile): string | undefined =>
    str(values, flag) ?? (env[envName] || undefined) ?? config[key];

  const protocol = pick("protocol", "POLICY_PROTOCOL", "protocol") ?? "grpc";
  if (protocol !== "grpc" && protocol !== "connect") {
    throw new UsageError(`--protocol must be grpc or connect (got "${protocol}")`, command);
  }
  const flagged = str(values, "output") ?? str(values, "format");
  if (str(values, "output") !== undefined && str(values, "format") !== undefined && str(values, "format") !== flagged) {
    throw new UsageError("--format is another name of --output: give one of them", command);
  }
  // `-o anyscale` is Anyscale's table: the table format in Anyscale's style.
  const format = flagged ?? (env.POLICY_OUTPUT || undefined) ?? config.output ?? "table";
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--output must be table, json, yaml or anyscale (got "${format}")`, command);
  }
  const style = format === "anyscale" ? "anyscale" : (pick("style", "POLICY_STYLE", "style") ?? "iam");
  if (style !== "iam" && style !== "anyscale") {
    throw new UsageError(`--style must be iam or anyscale (got "${style}")`, command);
  }
  const output = format === "anyscale" ? "table" : (format as OutputFormat);
  const server = pick("server", "POLICY_SERVER", "server") ?? DEFAULT_SERVER;
  if (!/^https?:\/\/[^/]+/.test(server)) {
    throw new UsageError(`--server must be an http:// or https:// URL (got "${server}")`, command);
  }
  const cert = pick("cert", "POLICY_CERT", "cert");
  const key = pick("key", "POLICY_KEY", "key");
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError("--cert and --key go together: give both or neither", command);
  }
  return {
    server: server.replace(/\/+$/, ""),
    protocol,
    token: pick("token", "POLICY_TOKEN", "token"),
    ca: pick("ca", "POLICY_CA", "ca"),
    cert,
    key,
    organization: pick("organization", "POLICY_ORGANIZATION", "organization"),
    schema: str(values, "schema") ?? (env.POLICY_SCHEMA || undefined),
    output,
    style,
  };
}
