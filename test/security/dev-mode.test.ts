// Development mode: with no credential configured the server lets every caller do everything, so it listens on
// loopback only, says so loudly, and refuses a non-loopback address (before listening) unless told --insecure.
// Everything here binds loopback only, except one --insecure start that is closed at once.
import { Code } from "@connectrpc/connect";
import net from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, test, vi } from "vitest";
import { loadConfig, type Config } from "../../src/config.js";
import { isLoopback } from "../../src/rpc/auth/setup.js";
import { startServer } from "../../src/server.js";
import { apiClients, binding, capturingLogger, expectCode, startSecureServer, tempDir, uniqueId } from "../helpers/secure-server.js";

/** A TCP port nothing listens on right now (on loopback). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("on loopback without any key", () => {
  test("every call works unauthenticated, and the server says so loudly", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const { logger, lines } = capturingLogger();
    const dir = tempDir();
    const server = await startServer({ host: "127.0.0.1", port: 0, grpcPort: 0, db: join(dir, "policy.db") }, logger);
    try {
      expect(warn.mock.calls.flat().join("\n")).toMatch(/DEVELOPMENT MODE: no authentication configured; every caller may do everything/);
      expect(lines.some((l) => l.level === 40 && /DEVELOPMENT MODE/.test(String(l.msg)))).toBe(true);

      for (const [baseUrl, protocol] of [[server.url, "connect"], [server.url, "grpc"], [`http://${server.grpcAddress}`, "grpc"]] as const) {
        const anonymous = apiClients(baseUrl, { protocol });
        const org = `organizations/${uniqueId("dev")}`;
        await anonymous.resources.createResource({ resource: { name: org } });
        await anonymous.policies.setPolicy({ resource: org, policy: { bindings: [binding("roles/owner", "user:ada@example.com")] } });
        expect((await anonymous.resources.listResources({})).resources.map((r) => r.name)).toContain(org);
        expect((await anonymous.policies.testIamPermissions({ resource: org, permissions: ["organizations.setPolicy", "audit.list"] })).permissions)
          .toEqual(["organizations.setPolicy", "audit.list"]);
        const { entries } = await anonymous.audit.listAuditEntries({ resource: org });
        expect(entries.map((e) => [e.action, e.principal])).toEqual([
          ["resource.create", "anonymous"],
          ["policy.set", "anonymous"],
        ]);
        // A token is not looked at: there is nothing to verify it with.
        const withToken = apiClients(baseUrl, { protocol, token: "not-a-jwt" });
        expect((await withToken.resources.getResource({ name: org })).name).toBe(org);
        // Absent resources are still NOT_FOUND, bad input still INVALID_ARGUMENT.
        await expectCode(anonymous.policies.getPolicy({ resource: `organizations/${uniqueId("none")}` }), Code.NotFound);
        await expectCode(anonymous.policies.getPolicy({ resource: "nope" }), Code.InvalidArgument);
      }
    } finally {
      await server.close();
    }
  });

  test("localhost counts as loopback", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const server = await startSecureServer({ host: "localhost" });
    try {
      expect((await apiClients(`http://127.0.0.1:${server.port}`).resources.listResources({})).resources).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});

describe("on a non-loopback address without any key", () => {
  const external = Object.values(networkInterfaces())
    .flat()
    .filter((i): i is NonNullable<typeof i> => i !== undefined && !i.internal)
    .map((i) => i.address);

  test.each(["0.0.0.0", "::", ...external.slice(0, 2)])("%s: refuses to start, before listening", async (host) => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const [port, grpcPort] = [await freePort(), await freePort()];
    const dir = tempDir();
    await expect(
      startServer({ host, port, grpcPort, db: join(dir, "policy.db") }, pino({ level: "silent" })),
    ).rejects.toThrow(
      `refusing to listen on ${host} without authentication: configure --jwks, --jwt-public-keys or --tls-client-ca, ` +
        "or pass --insecure to accept unauthenticated calls from the network",
    );
    expect(await listening(port)).toBe(false);
    expect(await listening(grpcPort)).toBe(false);
  });

  test("starts with insecure: true (closed at once)", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const dir = tempDir();
    const server = await startServer({ host: "0.0.0.0", port: 0, grpcPort: 0, db: join(dir, "policy.db"), insecure: true }, pino({ level: "silent" }));
    await server.close();
    expect(warn.mock.calls.flat().join("\n")).toMatch(/DEVELOPMENT MODE.*listening on 0\.0\.0\.0/);
  });
});

describe("what counts as loopback", () => {
  test.each(["127.0.0.1", "127.8.9.10", "localhost", "::1", "[::1]"])("%s is loopback", (host) => {
    expect(isLoopback(host)).toBe(true);
  });

  test.each(["0.0.0.0", "::", "", "10.1.2.3", "192.168.0.1", "::ffff:127.0.0.1", "127.0.0.1.nip.io", "localhost.example.com", "0", "128.0.0.1"])(
    "%j is not (refused without --insecure)",
    (host) => {
      expect(isLoopback(host)).toBe(false);
    },
  );
});

describe("configuration", () => {
  const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => loadConfig(argv, env) as Config;

  test("--cache-mb (or POLICY_CACHE_MB) sizes the read cache: 64 MiB by default, 0 turns it off, nonsense is refused", () => {
    expect(parse([]).cacheMb).toBe(64);
    expect(parse(["--cache-mb", "0"]).cacheMb).toBe(0);
    expect(parse([], { POLICY_CACHE_MB: "256" }).cacheMb).toBe(256);
    expect(() => parse(["--cache-mb", "lots"])).toThrow(/--cache-mb/);
    expect(() => parse(["--cache-mb", "-1"])).toThrow(/--cache-mb/);
  });

  test("--insecure is off unless given, as a flag or POLICY_INSECURE", () => {
    expect(parse([]).insecure).toBe(false);
    expect(parse(["--host", "0.0.0.0", "--insecure"]).insecure).toBe(true);
    expect(parse([], { POLICY_INSECURE: "1" }).insecure).toBe(true);
    expect(parse([], { POLICY_INSECURE: "true" }).insecure).toBe(true);
    expect(parse([], { POLICY_INSECURE: "0" }).insecure).toBe(false);
    expect(parse([], { POLICY_INSECURE: "" }).insecure).toBe(false);
  });

  test("the default host is loopback", () => {
    expect(parse([]).host).toBe("127.0.0.1");
  });

  test("token, mTLS and admin flags", () => {
    const config = parse([
      "--jwks", "/etc/policy/jwks.json",
      "--jwt-public-keys", "a.pem, b.pem",
      "--jwt-issuer", "https://issuer.example",
      "--jwt-audience", "policy",
      "--jwt-groups-claim", "roles",
      "--admins", "user:root@example.com,group:ops",
      "--tls-cert", "cert.pem",
      "--tls-key", "key.pem",
      "--tls-client-ca", "ca.pem",
    ]);
    expect(config).toMatchObject({
      jwks: "/etc/policy/jwks.json",
      jwtPublicKeys: ["a.pem", "b.pem"],
      jwtIssuer: "https://issuer.example",
      jwtAudience: "policy",
      jwtGroupsClaim: "roles",
      admins: ["user:root@example.com", "group:ops"],
      tlsClientCa: "ca.pem",
    });
    expect(parse([], { POLICY_ADMINS: "user:a@example.com", POLICY_JWKS: "k.json" })).toMatchObject({ admins: ["user:a@example.com"], jwks: "k.json" });
    expect(parse([]).jwtGroupsClaim).toBe("groups");
    expect(() => parse(["--tls-client-ca", "ca.pem"])).toThrow(/--tls-client-ca needs --tls-cert and --tls-key/);
  });

  test("an admin that is not a principal fails at start", async () => {
    const dir = tempDir();
    await expect(
      startServer({ host: "127.0.0.1", port: 0, grpcPort: 0, db: join(dir, "policy.db"), admins: ["root"] }, pino({ level: "silent" })),
    ).rejects.toThrow(/--admins: "root" is not a member/);
  });
});
