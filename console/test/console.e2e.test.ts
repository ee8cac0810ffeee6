// The console in a real browser (Debian's chromium, headless) against a real server on a random port: what an
// administrator does, checked through the API; and the screenshots of docs/console.md.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { Page } from "playwright-core";
import { startTestServer, type TestServer } from "../../test/helpers/server.js";
import { join } from "node:path";
import { ADMIN, apiClients, AUDIENCE, ISSUER, signingKey, startSecureServer, tempDir, tokenFor, writeJwks, type SecureServer } from "../../test/helpers/secure-server.js";
import { CHROMIUM, HAVE_CHROMIUM, launch, screenshot, SKIP_BROWSER, type Browser } from "./browser.js";

// In CI the browser tests never skip: a missing chromium fails here, by name.
test.runIf(process.env.CI === "true")("CI has Debian's chromium for the console's browser tests", () => {
  expect(HAVE_CHROMIUM, `no chromium at ${CHROMIUM}: .ci/run installs it with apt-get`).toBe(true);
});

describe.skipIf(SKIP_BROWSER)("the console in chromium", { timeout: 90_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launch()]);
    page = browser.page;
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });
  afterEach(() => {
    expect(browser.errors.splice(0), "uncaught errors in the page").toEqual([]);
  });

  let loads = 0;
  const open = async (hash: string) => {
    // A new query string: a fresh load (a hash change alone would keep the page and its tree).
    await page.goto(`${server.url}/console/?load=${++loads}#/${hash}`);
    // Attached, not visible: an empty tree has no height.
    await page.getByRole("tree", { name: "Resource hierarchy" }).waitFor({ state: "attached" });
  };
  const text = (selector: string) => () => page.locator(selector).first().textContent();

  test("create an organization and a cloud in the UI, grant a role, see it through the API", async () => {
    await open("");
    await page.getByRole("link", { name: "New organization" }).click();
    await page.getByLabel("Id").fill("acme");
    await page.getByLabel("Display name").fill("Acme Inc.");
    await screenshot(page, "create");
    await page.getByRole("button", { name: "Create organization" }).click();
    await page.getByRole("heading", { name: /Acme Inc\./ }).waitFor();
    await page.getByRole("link", { name: "Details" }).click();
    await page.getByRole("link", { name: "New cloud in organizations/acme" }).click();
    await page.getByLabel("Id").fill("prod");
    await page.getByLabel("Display name").fill("Production");
    await page.getByRole("button", { name: "Create cloud" }).click();
    await page.getByRole("heading", { name: /Production/ }).waitFor();
    expect(page.url()).toContain("#/clouds/prod");
    // The tree shows the new cloud under its organization.
    await page.getByRole("treeitem", { name: /Production clouds\/prod/ }).waitFor();

    await page.getByRole("button", { name: "Add role binding" }).click();
    await page.getByLabel("Role of binding 1").selectOption("roles/readonly");
    await page.getByLabel("Add member to roles/readonly").fill("user:Ada@Example.com");
    await page.getByLabel("Add member to roles/readonly").press("Enter");
    await page.getByRole("button", { name: "Save policy" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    await screenshot(page, "policy");

    const cloud = await server.connect.resources.getResource({ name: "clouds/prod" });
    expect(cloud).toMatchObject({ parent: "organizations/acme", displayName: "Production", type: "cloud" });
    const policy = await server.connect.policies.getPolicy({ resource: "clouds/prod" });
    expect(policy.bindings.map((b) => ({ role: b.role, members: b.members }))).toEqual([
      { role: "roles/readonly", members: ["user:ada@example.com"] },
    ]);

    await page.getByRole("link", { name: "Details" }).click();
    await page.getByRole("term").filter({ hasText: "Etag" }).waitFor();
    await screenshot(page, "details");
  });

  test("the policy editor offers the organization's custom roles, and a binding of one is saved", async () => {
    await server.connect.resources.createResource({ resource: { name: "organizations/customs" } });
    await server.connect.roles.createRole({
      parent: "organizations/customs",
      roleId: "deployer",
      role: { title: "Deployer", includedPermissions: ["projects.get", "projects.update"] },
    });
    const custom = "organizations/customs/roles/deployer";
    await open("organizations/customs");
    await page.getByRole("button", { name: "Add role binding" }).click();
    await page.getByRole("option", { name: `${custom} — Deployer` }).waitFor({ state: "attached" });
    await page.getByLabel("Role of binding 1").selectOption(custom);
    await page.getByLabel(`Add member to ${custom}`).fill("user:dev@example.com");
    await page.getByLabel(`Add member to ${custom}`).press("Enter");
    await page.getByRole("button", { name: "Save policy" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const policy = await server.connect.policies.getPolicy({ resource: "organizations/customs" });
    expect(policy.bindings.map((b) => ({ role: b.role, members: b.members }))).toEqual([{ role: custom, members: ["user:dev@example.com"] }]);
  });

  test("move and delete ask for confirmation; a refused move shows the server's field", async () => {
    const r = server.connect.resources;
    await r.createResource({ resource: { name: "organizations/from" } });
    await r.createResource({ resource: { name: "organizations/to" } });
    await r.createResource({ resource: { name: "projects/mover", parent: "organizations/from" } });
    await open("projects/mover/details");
    await page.getByLabel("Move to parent").fill("projects/mover");
    await page.getByRole("button", { name: "Move…" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Move" }).click();
    await page.getByRole("alert").filter({ hasText: "INVALID_ARGUMENT" }).waitFor();
    expect(await page.getByLabel("Move to parent").getAttribute("aria-invalid")).toBe("true");

    await page.getByLabel("Move to parent").fill("organizations/to");
    await page.getByRole("button", { name: "Move…" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
    expect((await r.getResource({ name: "projects/mover" })).parent).toBe("organizations/from");
    await page.getByRole("button", { name: "Move…" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Move" }).click();
    await page.getByRole("status").filter({ hasText: "Moved under organizations/to" }).waitFor();
    expect((await r.getResource({ name: "projects/mover" })).parent).toBe("organizations/to");

    await page.getByRole("button", { name: "Delete projects/mover…" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
    await page.waitForURL(/#\/organizations\/to$/);
    await expect(r.getResource({ name: "projects/mover" })).rejects.toThrow(/not found/);
  });

  test("a concurrent API write during an edit: shown, and the edit re-applied on top", async () => {
    await server.connect.resources.createResource({ resource: { name: "organizations/race", displayName: "Race" } });
    await server.connect.policies.setPolicy({
      resource: "organizations/race",
      policy: { bindings: [{ role: "roles/owner", members: ["user:first@example.com"] }] },
    });
    await open("organizations/race/policy");
    await page.getByLabel("Add member to roles/owner").fill("user:mine@example.com");
    await page.getByRole("button", { name: "Add", exact: true }).click();

    // Meanwhile, someone else adds a collaborator through the API.
    const current = await server.connect.policies.getPolicy({ resource: "organizations/race" });
    await server.connect.policies.setPolicy({
      resource: "organizations/race",
      policy: { etag: current.etag, bindings: [...current.bindings, { role: "roles/collaborator", members: ["user:theirs@example.com"] }] },
    });

    await page.getByRole("button", { name: "Save policy" }).click();
    const conflict = page.getByRole("alert").filter({ hasText: "Someone else changed this policy" });
    await conflict.waitFor();
    await expect.poll(() => conflict.textContent()).toContain("added user:theirs@example.com as roles/collaborator");
    expect(await conflict.textContent()).toContain("added user:mine@example.com as roles/owner");
    await screenshot(page, "conflict");

    await page.getByRole("button", { name: "Re-apply my changes on top" }).click();
    await page.getByRole("button", { name: "Save policy" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const saved = await server.connect.policies.getPolicy({ resource: "organizations/race" });
    expect(saved.bindings.map((b) => [b.role, [...b.members]])).toEqual([
      ["roles/collaborator", ["user:theirs@example.com"]],
      ["roles/owner", ["user:first@example.com", "user:mine@example.com"]],
    ]);
  });

  test("the troubleshooter explains CheckAccess; the effective policy names origins; the audit log lists the writes", async () => {
    await server.connect.resources.createResource({ resource: { name: "organizations/why", displayName: "Why" } });
    await server.connect.resources.createResource({ resource: { name: "projects/web", parent: "organizations/why", displayName: "Web" } });
    await server.connect.policies.setPolicy({
      resource: "organizations/why",
      policy: { bindings: [{ role: "roles/collaborator", members: ["group:ug_dev"] }] },
    });
    await open("projects/web/troubleshoot");
    await page.getByLabel("Principals").fill("user:bob@example.com group:ug_dev");
    await page.getByLabel("Permissions").fill("projects.update projects.delete organizations.delete");
    await page.getByRole("button", { name: "Check access" }).click();
    const update = page.locator(".result").filter({ hasText: "projects.update" });
    await update.waitFor();
    expect(await update.locator("h2").textContent()).toBe("projects.update: GRANTED");
    const row = update.locator("tbody tr").first();
    expect(await row.textContent()).toContain("roles/collaborator");
    expect(await row.textContent()).toContain("organizations/why");
    expect(await row.textContent()).toContain("group:ug_dev");
    expect(await page.locator(".result").filter({ hasText: "organizations.delete" }).locator("h2").textContent()).toBe(
      "organizations.delete: NOT GRANTED",
    );
    await screenshot(page, "troubleshoot");

    await page.getByRole("link", { name: "Effective policy" }).click();
    const inherited = page.getByRole("row").filter({ hasText: "roles/collaborator" });
    await inherited.waitFor();
    expect(await inherited.textContent()).toContain("organizations/why (inherited)");
    await screenshot(page, "effective");

    await open("organizations/why/audit");
    await page.getByRole("cell", { name: "organizations/why" }).first().waitFor();
    await expect.poll(text("tbody")).toMatch(/SetPolicy|setPolicy|policy/i);
    await screenshot(page, "audit");
  });

  test("an invalid member is refused as it is typed; a CEL error from the server highlights its field", async () => {
    await server.connect.resources.createResource({ resource: { name: "organizations/typo" } });
    await open("organizations/typo/policy");
    await page.getByRole("button", { name: "Add role binding" }).click();
    const member = page.getByLabel("Add member to roles/owner");
    await member.fill("usr:bob@example.com");
    expect(await member.getAttribute("aria-invalid")).toBe("true");
    const describedBy = (await member.getAttribute("aria-describedby"))!;
    expect(await page.locator(`[id="${describedBy.split(" ")[0]}"]`).textContent()).toContain("is not a member");
    expect(await page.getByRole("button", { name: "Add", exact: true }).isDisabled()).toBe(true);
    await screenshot(page, "member-check");
    await member.press("Enter");
    expect(await page.locator(".members li").count()).toBe(0);

    await member.fill("user:bob@example.com");
    expect(await member.getAttribute("aria-invalid")).toBeNull();
    await member.press("Enter");
    await page.getByRole("button", { name: "Add condition" }).click();
    await page.getByLabel("Condition title").fill("broken");
    await page.getByLabel("CEL expression").fill("request.time <");
    await page.getByRole("button", { name: "Save policy" }).click();
    const error = page.getByRole("alert").filter({ hasText: "INVALID_ARGUMENT" });
    await error.waitFor();
    expect(await error.textContent()).toContain("binding 1.condition.expression");
    expect(await page.getByLabel("CEL expression").getAttribute("aria-invalid")).toBe("true");
    await screenshot(page, "invalid");
    const stored = await server.connect.policies.getPolicy({ resource: "organizations/typo" });
    expect(stored.bindings).toEqual([]);
  });

  test("the tree by keyboard alone: move, open, close, reach the 101st child, open a resource", async () => {
    await server.connect.resources.createResource({ resource: { name: "organizations/keys", displayName: "Keys" } });
    await server.connect.resources.createResource({ resource: { name: "clouds/kc", parent: "organizations/keys" } });
    // 101 children: more than the screen holds, so the last ones are drawn only when focus reaches them.
    for (let i = 0; i <= 100; i += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, 101 - i) }, (_, j) =>
          server.connect.resources.createResource({ resource: { name: `projects/k${String(i + j).padStart(3, "0")}`, parent: "clouds/kc" } }),
        ),
      );
    }
    await open("");
    await page.getByRole("treeitem", { name: /organizations\/keys/ }).waitFor();
    const focused = () => page.evaluate(() => document.activeElement?.id ?? "");
    // Tab from the top of the page until the tree has focus.
    for (let i = 0; i < 20 && !(await focused()).startsWith("tree-"); i++) await page.keyboard.press("Tab");
    await expect.poll(focused).toMatch(/^tree-organizations\//);
    // Go to the organization (roots are in name order), open it, step into its cloud, open that.
    for (let i = 0; i < 10 && (await focused()) !== "tree-organizations/keys"; i++) await page.keyboard.press("ArrowDown");
    await expect.poll(focused).toBe("tree-organizations/keys");
    await page.keyboard.press("ArrowRight");
    await page.getByRole("treeitem", { name: /clouds\/kc/ }).waitFor();
    expect(await page.getByRole("treeitem", { name: /organizations\/keys/ }).getAttribute("aria-expanded")).toBe("true");
    await page.keyboard.press("ArrowRight");
    await expect.poll(focused).toBe("tree-clouds/kc");
    await page.keyboard.press("ArrowRight");
    await page.getByRole("treeitem", { name: /projects\/k000/ }).waitFor();
    await page.keyboard.press("ArrowDown");
    await expect.poll(focused).toBe("tree-projects/k000");
    expect(await page.getByRole("treeitem", { name: /projects\/k100/ }).count()).toBe(0);
    // End and Home: the last and first visible items.
    await page.keyboard.press("End");
    await expect.poll(focused).toMatch(/^tree-organizations\//);
    await page.keyboard.press("Home");
    // The first root, whichever other tests created before this one.
    const firstRow = () => page.locator(".tree li[role=treeitem]").first().getAttribute("id");
    await expect.poll(async () => (await focused()) === (await firstRow()) && (await focused())?.startsWith("tree-organizations/")).toBe(true);
    // Down through the cloud's children (one virtual list: rows are drawn as focus reaches them) to the last one.
    for (let i = 0; i < 130 && (await focused()) !== "tree-projects/k100"; i++) await page.keyboard.press("ArrowDown");
    await expect.poll(focused).toBe("tree-projects/k100");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: /projects\/k100/ }).waitFor();
    expect(page.url()).toContain("#/projects/k100");
    await screenshot(page, "tree");
    // Left goes to the parent, then closes it.
    await page.getByRole("treeitem", { name: /projects\/k100/ }).focus();
    await page.keyboard.press("ArrowLeft");
    await expect.poll(focused).toBe("tree-clouds/kc");
    await page.keyboard.press("ArrowLeft");
    expect(await page.getByRole("treeitem", { name: /clouds\/kc/ }).getAttribute("aria-expanded")).toBe("false");
  });
});

describe.skipIf(SKIP_BROWSER)("the console with authentication", { timeout: 90_000 }, () => {
  let server: SecureServer;
  let browser: Browser;
  let adminToken: string;

  beforeAll(async () => {
    const dir = tempDir("console-auth-");
    const key = await signingKey("ES256");
    const jwks = await writeJwks(join(dir, "jwks.json"), [key]);
    [server, browser] = await Promise.all([
      startSecureServer({ jwks, jwtIssuer: ISSUER, jwtAudience: AUDIENCE, admins: [ADMIN] }, dir),
      launch(),
    ]);
    adminToken = await tokenFor(key, ADMIN.slice("user:".length));
    await apiClients(server.url, { token: adminToken }).resources.createResource({ resource: { name: "organizations/locked" } });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("without a token the server's refusal is shown; with the token entered, the tree loads", async () => {
    const page = browser.page;
    await page.goto(`${server.url}/console/`);
    const refusal = page.getByRole("alert").filter({ hasText: "UNAUTHENTICATED" });
    await refusal.waitFor();
    await page.getByLabel("Bearer token").fill(adminToken);
    await page.getByRole("button", { name: "Use token" }).click();
    await page.getByRole("treeitem", { name: /organizations\/locked/ }).waitFor();
    expect(await refusal.count()).toBe(0);
    // Kept in memory only: a reload forgets it.
    await page.reload();
    await page.getByRole("alert").filter({ hasText: "UNAUTHENTICATED" }).waitFor();
  });
});
