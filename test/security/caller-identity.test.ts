// GetCallerIdentity: the principal and groups the server takes a caller to be, for any authenticated caller, on both
// ports; without a credential it is refused like every other RPC.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, test } from "vitest";
import { ADMIN, apiClients, expectCode, signingKey, startTokenServer, tokenFor, type SecureServer, type SigningKey } from "../helpers/secure-server.js";

let server: SecureServer;
let key: SigningKey;

beforeAll(async () => {
  key = await signingKey("ES256");
  server = await startTokenServer([key]);
});
afterAll(() => server?.stop());

test("a caller with no role learns its principal and groups; an administrator is unrestricted", async () => {
  const token = await tokenFor(key, "Nobody@Example.com", ["eng", "ops"]);
  for (const client of [apiClients(server.url, { token, protocol: "connect" }), apiClients(`http://${server.grpcAddress}`, { token, protocol: "grpc" })]) {
    const me = await client.access.getCallerIdentity({});
    expect(me.principal).toBe("user:nobody@example.com");
    expect(me.identities).toEqual(["user:nobody@example.com", "group:eng", "group:ops"]);
    expect(me.unrestricted).toBe(false);
  }
  const admin = apiClients(server.url, { token: await tokenFor(key, ADMIN.slice("user:".length)) });
  expect((await admin.access.getCallerIdentity({})).unrestricted).toBe(true);
});

test("without a token it is UNAUTHENTICATED", async () => {
  await expectCode(apiClients(server.url).access.getCallerIdentity({}), Code.Unauthenticated);
});
