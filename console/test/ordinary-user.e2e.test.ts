// The console as an ordinary user sees it (JWT mode): a project owner, who may not list the roots, finds its project
// from "my resources" (the tree never fails on PERMISSION_DENIED), sees who it is signed in as and that its effective
// policy is cut down; a read-only member is not offered what it may not do.
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import {
  ADMIN,
  apiClients,
  AUDIENCE,
  binding,
  ISSUER,
  signingKey,
  startSecureServer,
  tempDir,
  tokenFor,
  writeJwks,
  type SecureServer,
  type SigningKey,
} from "../../test/helpers/secure-server.js";
import { launch, screenshot, SKIP_BROWSER, type Browser } from "./browser.js";

describe.skipIf(SKIP_BROWSER)("the console for an ordinary user", { timeout: 90_000 }, () => {
  let server: SecureServer;
  let browser: Browser;
  let key: SigningKey;

  beforeAll(async () => {
    const dir = tempDir("console-user-");
    key = await signingKey("ES256");
    const jwks = await writeJwks(join(dir, "jwks.json"), [key]);
    [server, browser] = await Promise.all([startSecureServer({ jwks, jwtIssuer: ISSUER, jwtAudience: AUDIENCE, admins: [ADMIN] }, dir), launch()]);
    const admin = apiClients(server.url, { token: await tokenFor(key, ADMIN.slice("user:".length)) });
    await admin.resources.createResource({ resource: { name: "organizations/corp", displayName: "Corp" } });
    await admin.resources.createResource({ resource: { name: "clouds/corp_prod", parent: "organizations/corp" } });
    await admin.resources.createResource({ resource: { name: "projects/pats_app", parent: "clouds/corp_prod", displayName: "Pat's app" } });
    await admin.resources.createResource({ resource: { name: "projects/other_app", parent: "clouds/corp_prod" } });
    await admin.policies.setPolicy({ resource: "organizations/corp", policy: { bindings: [binding("roles/owner", "user:olga@example.com")] } });
    await admin.policies.setPolicy({
      resource: "projects/pats_app",
      policy: { bindings: [binding("roles/owner", "user:pat@example.com"), binding("roles/readonly", "user:rita@example.com")] },
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });
  afterEach(() => {
    expect(browser.errors.splice(0), "uncaught errors in the page").toEqual([]);
  });

  async function signIn(email: string) {
    const page = browser.page;
    await page.goto(`${server.url}/console/`);
    await page.getByLabel("Bearer token").fill(await tokenFor(key, email));
    await page.getByRole("button", { name: "Use token" }).click();
    await page.getByRole("status", { name: "Signed in as" }).filter({ hasText: `user:${email}` }).waitFor();
    return page;
  }

  test("a project owner reaches its project from my resources, without typing a URL", async () => {
    const page = await signIn("pat@example.com");
    // The tree does not fail: the roots it may not list are replaced by the resources it holds a role on.
    await page.getByRole("treeitem", { name: /projects\/pats_app/ }).waitFor();
    expect(await page.getByRole("treeitem", { name: /projects\/other_app/ }).count()).toBe(0);
    expect(await page.getByRole("alert").count()).toBe(0);
    const mine = page.getByRole("table").filter({ hasText: "projects/pats_app" });
    await mine.waitFor();
    await screenshot(page, "my-resources");
    await mine.getByRole("link", { name: "Pat's app" }).click();
    await page.getByRole("heading", { name: /Pat's app/ }).waitFor();
    expect(page.url()).toContain("#/projects/pats_app");
    // An owner edits its policy; its details offer delete (it holds projects.delete).
    // Once its permissions are known (one TestIamPermissions), the editor is enabled: it holds projects.setPolicy.
    await expect.poll(() => page.getByRole("button", { name: "Add role binding" }).isEnabled()).toBe(true);
    expect(await page.getByText("Read-only:").count()).toBe(0);
    // Its effective policy is cut down (it may not read its ancestors' policies), and says so.
    await page.getByRole("link", { name: "Effective policy" }).click();
    await page.getByRole("note").filter({ hasText: "Partial answer." }).waitFor();
    expect(await page.getByText("user:olga@example.com").count()).toBe(0);
    await screenshot(page, "partial");
    // Find by display name beneath what it sees: no uncaught error, no silent failure.
    await page.getByLabel("Find a resource").fill("Pat's");
    await page.getByRole("button", { name: "Find" }).click();
    await page.getByRole("status").filter({ hasText: /Found .*projects\/pats_app/ }).waitFor();
  });

  test("a read-only member is not offered what it may not do", async () => {
    const page = await signIn("rita@example.com");
    await page.goto(`${server.url}/console/#/projects/pats_app/details`);
    await page.getByRole("heading", { name: /Pat's app/ }).waitFor();
    await page.getByText("You may not move or delete this resource.").waitFor();
    expect(await page.getByRole("button", { name: /Delete projects\/pats_app/ }).count()).toBe(0);
    expect(await page.getByLabel("Move to parent").count()).toBe(0);
    expect(await page.getByRole("link", { name: "New organization" }).count()).toBe(0);
  });
});
