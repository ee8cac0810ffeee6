// Server configuration from flags, then environment variables, then defaults.
import { parseArgs } from "node:util";

export interface Config {
  host: string;
  port: number;
  /** The dedicated gRPC port (grpc-js). */
  grpcPort: number;
  db: string;
  /** A schema YAML file; undefined: the built-in default schema. */
  schema?: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel: string;
}

const OPTIONS = {
  host: { env: "POLICY_HOST", default: "127.0.0.1", help: "address to listen on" },
  port: { env: "POLICY_PORT", default: "8080", help: "main port: gRPC, gRPC-Web and Connect (0: any free port)" },
  "grpc-port": { env: "POLICY_GRPC_PORT", default: "50051", help: "gRPC-only port (grpc-js), fastest for services" },
  db: { env: "POLICY_DB", default: "./data/policy.db", help: "SQLite database file (created if missing)" },
  schema: { env: "POLICY_SCHEMA", default: undefined, help: "resource schema YAML file (default: built in)" },
  "tls-cert": { env: "POLICY_TLS_CERT", default: undefined, help: "PEM certificate: serve TLS (ALPN h2, http/1.1)" },
  "tls-key": { env: "POLICY_TLS_KEY", default: undefined, help: "PEM private key of --tls-cert" },
  "log-level": { env: "POLICY_LOG_LEVEL", default: "info", help: "fatal, error, warn, info, debug, trace or silent" },
} as const;

export const USAGE = [
  "usage: npm start -- [options]   (each option also reads the environment variable shown)",
  ...Object.entries(OPTIONS).map(
    ([name, o]) => `  --${name.padEnd(10)} ${o.env.padEnd(17)} ${o.help}${o.default ? ` (default ${o.default})` : ""}`,
  ),
].join("\n");

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(Object.keys(OPTIONS).map((name) => [name, { type: "string" as const }])),
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return "help";
  const get = (name: keyof typeof OPTIONS): string | undefined =>
    ((values as Record<string, unknown>)[name] as string | undefined) ?? env[OPTIONS[name].env] ?? OPTIONS[name].default;
  const config: Config = {
    host: get("host")!,
    port: portNumber("port", get("port")!),
    grpcPort: portNumber("grpc-port", get("grpc-port")!),
    db: get("db")!,
    schema: get("schema"),
    tlsCert: get("tls-cert"),
    tlsKey: get("tls-key"),
    logLevel: get("log-level")!,
  };
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new Error("--tls-cert and --tls-key go together: give both or neither");
  }
  return config;
}

function portNumber(flag: string, value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--${flag}: "${value}" is not a port number`);
  return port;
}
