// The CLI against a TLS server: --ca trusts its certificate, over gRPC (HTTP/2, ALPN h2) and Connect (HTTP/1.1);
// --cert and --key present a client certificate to a server that authenticates clients by certificate (mTLS).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { cli, runMain } from "../helpers/cli.js";
import { removeDir, tempDir } from "../helpers/temp-dir.js";

// Each case runs the CLI as several child processes (~1 s each on a busy two-core machine).
vi.setConfig({ testTimeout: 120_000 });

let dir: string;
let cert: string;
let clientCert: string;
let clientKey: string;
let server: TestServer;
let mtls: TestServer;

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: "ignore", timeout: 20_000 });
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

beforeAll(async () => {
  dir = tempDir("policy-cli-tls-");
  cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  openssl(["req", "-x509", ...EC, "-days", "1", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert]);
  // A CA of client certificates, and a certificate it signed for root@example.com.
  const clientCa = join(dir, "client-ca.pem");
  const clientCaKey = join(dir, "client-ca.key");
  openssl(["req", "-x509", ...EC, "-days", "1", "-subj", "/CN=client-ca", "-keyout", clientCaKey, "-out", clientCa]);
  clientKey = join(dir, "client.key");
  clientCert = join(dir, "client.pem");
  const csr = join(dir, "client.csr");
  const ext = join(dir, "client.ext");
  writeFileSync(ext, "subjectAltName=email:root@example.com\nextendedKeyUsage=clientAuth\n");
  openssl(["req", ...EC, "-subj", "/CN=root", "-keyout", clientKey, "-out", csr]);
  openssl(["x509", "-req", "-in", csr, "-CA", clientCa, "-CAkey", clientCaKey, "-CAcreateserial", "-days", "1",
    "-extfile", ext, "-out", clientCert]);

  server = await startTestServer({ tlsCert: cert, tlsKey: key });
  mtls = await startTestServer({ tlsCert: cert, tlsKey: key, tlsClientCa: clientCa, admins: ["user:root@example.com"] });
});
afterAll(async () => {
  await server?.stop();
  await mtls?.stop();
  removeDir(dir);
});

test("--ca trusts the server's certificate, with either protocol; without it the connection is refused", async () => {
  expect(server.url).toMatch(/^https:/);
  for (const protocol of ["grpc", "connect"]) {
    const args = ["resources", "create", "--resource-type", "organization", "--organization", `tls${protocol}`, "-o", "json"];
    const result = await cli([...args, "--server", server.url, "--ca", cert, "--protocol", protocol]);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout).name).toBe(`organizations/tls${protocol}`);
  }
  const untrusted = await cli(["resources", "list", "--server", server.url]);
  expect(untrusted.code).toBe(1);
  expect(untrusted.stderr).toMatch(/^error: [A-Z_]+: .*certificate/i);
  expect(untrusted.stderr).toMatch(/hint: the server's TLS certificate is not trusted: give its CA with --ca FILE/);
});

test("--cert and --key present a client certificate: the caller is its email; without one, UNAUTHENTICATED", async () => {
  for (const protocol of ["grpc", "connect"]) {
    const args = ["resources", "create", "--resource-type", "organization", "--organization", `m${protocol}`, "-o", "json"];
    const result = await cli([...args, "--server", mtls.url, "--ca", cert, "--cert", clientCert, "--key", clientKey,
      "--protocol", protocol]);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout).name).toBe(`organizations/m${protocol}`);
  }
  const anonymous = await cli(["resources", "list", "--server", mtls.url, "--ca", cert]);
  expect(anonymous.code).toBe(1);
  expect(anonymous.stderr).toMatch(/^error: UNAUTHENTICATED: /);

  const half = await cli(["resources", "list", "--server", mtls.url, "--ca", cert, "--cert", clientCert]);
  expect(half.code).toBe(2);
  expect(half.stderr).toMatch(/^error: --cert and --key go together/);
});

test("plain http:// to a TLS port names the mismatch and says to use https://, on both ports and protocols", async () => {
  const https = new URL(server.url);
  for (const port of [https.port, String(server.grpcPort)]) {
    for (const protocol of ["grpc", "connect"]) {
      const plain = `http://127.0.0.1:${port}`;
      const result = await runMain(["resources", "list", "--server", plain, "--protocol", protocol]);
      expect(result.code, `${plain} ${protocol}`).toBe(1);
      expect(result.stderr, `${plain} ${protocol}`).toMatch(
        new RegExp(`^error: UNAVAILABLE: ${plain} speaks TLS, and the call was made in clear text \\(http://\\) \\(`),
      );
      expect(result.stderr).toContain(`\nhint: use --server https://127.0.0.1:${port} (with --ca FILE`);
    }
  }
});

test("the Connect protocol to the TLS gRPC port is named a protocol mismatch, not PERMISSION_DENIED with a token hint", async () => {
  const grpcPort = `https://127.0.0.1:${server.grpcPort}`;
  const result = await runMain(["resources", "list", "--server", grpcPort, "--protocol", "connect", "--ca", cert]);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(
    new RegExp(`^error: UNAVAILABLE: ${grpcPort} speaks gRPC over HTTP/2 only, not the Connect protocol over HTTP/1.1 \\(`),
  );
  expect(result.stderr).toMatch(/\nhint: it is the server's gRPC port \(--grpc-port\), which serves gRPC alone: use --protocol grpc/);
  expect(result.stderr).not.toMatch(/token/);
  // gRPC to the same port works.
  const grpc = await runMain(["resources", "list", "--server", grpcPort, "--protocol", "grpc", "--ca", cert]);
  expect(grpc.stderr).toBe("");
});
