// The whole model in the console, in a real browser (Debian's chromium) against a real server in development mode:
// a deny shown as DENIED with its rule, deny policies, custom roles, shared policies, the analyzer, the policy by
// principal, consumers, the audit log newest first with its diffs, a tree that follows moves and deletes, focus and
// keyboard fixes, unsaved edits, errors a console user can act on; and the phone layout.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { Page } from "playwright-core";
import { startTestServer, type TestServer } from "../../test/helpers/server.js";
import { launch, PHONE, screenshot, SKIP_BROWSER, type Browser } from "./browser.js";

describe.skipIf(SKIP_BROWSER)("the console shows the whole model", { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let loads = 0;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launch()]);
    page = browser.page;
    const { resources, policies } = server.connect;
    await resources.createResource({ resource: { name: "organizations/model", displayName: "Model Org" } });
    await resources.createResource({ resource: { name: "clouds/mc", parent: "organizations/model", displayName: "Model Cloud" } });
    await resources.createResource({ resource: { name: "projects/mp", parent: "clouds/mc", displayName: "Model Project" } });
    await policies.setPolicy({
      resource: "organizations/model",
      policy: { bindings: [{ role: "roles/collaborator", members: ["user:bob@example.com", "domain:example.com"] }] },
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });
  afterEach(() => {
    expect(browser.errors.splice(0), "uncaught errors in the page").toEqual([]);
  });

  const open = async (hash: string) => {
    await page.goto(`${server.url}/console/?load=${++loads}#/${hash}`);
    await page.getByRole("tree", { name: "Resource hierarchy" }).waitFor({ state: "attached" });
  };

  test("a deny reads as DENIED, with the rule that decided, beside the allow evaluation; the effective policy lists it", async () => {
    // Only this test's deny rule applies to the project, whichever tests ran before (the analyzer's denies bob there).
    await server.connect.denyPolicies.setDenyPolicy({ resource: "projects/mp", denyPolicy: { rules: [] } });
    await server.connect.denyPolicies.setDenyPolicy({
      resource: "clouds/mc",
      denyPolicy: { rules: [{ description: "no deletes in prod", deniedPrincipals: ["user:bob@example.com"], deniedPermissions: ["projects.delete"] }] },
    });
    await open("projects/mp/troubleshoot");
    await page.getByLabel("Principals").fill("user:bob@example.com");
    await page.getByLabel("Permissions").fill("projects.delete projects.update");
    await page.getByRole("button", { name: "Check access" }).click();
    const denied = page.locator('.result[data-permission="projects.delete"]');
    await denied.waitFor();
    expect(await denied.locator("h2").textContent()).toBe("projects.delete: DENIED");
    expect(await denied.locator(".why").textContent()).toContain("rule #1 (no deletes in prod) on clouds/mc");
    // Allow and deny side by side: the binding that would grant it, and the rule that denies it.
    expect(await denied.locator(".allow-row").allTextContents()).toContainEqual(expect.stringContaining("roles/collaborator"));
    const rule = denied.locator(".deny-row").first();
    expect(await rule.textContent()).toContain("DENIED");
    expect(await rule.textContent()).toContain("user:bob@example.com");
    expect(await page.locator('.result[data-permission="projects.update"] h2').textContent()).toBe("projects.update: GRANTED");
    await screenshot(page, "troubleshoot-deny");
    // The answer goes as soon as an input changes: it is never read as the answer to other inputs.
    await page.getByLabel("Permissions").fill("projects.get");
    await expect.poll(() => page.locator(".result").count()).toBe(0);

    await page.getByRole("link", { name: "Effective policy" }).click();
    const denyRow = page.locator(".deny-row").filter({ hasText: "no deletes in prod" });
    await denyRow.waitFor();
    expect(await denyRow.textContent()).toContain("clouds/mc (inherited)");
    await screenshot(page, "effective");
  });

  test("a deny policy is edited with the server's rules checked as typed, and saved", async () => {
    await open("projects/mp/deny");
    await page.getByRole("button", { name: "Add deny rule" }).click();
    await page.getByLabel("Denied principals of rule 1").fill("usr:eve@example.com");
    expect(await page.getByLabel("Denied principals of rule 1").getAttribute("aria-invalid")).toBe("true");
    await page.getByLabel("Denied principals of rule 1").fill("user:eve@example.com");
    await page.getByLabel("Denied permissions of rule 1").fill("projects.nosuch");
    expect(await page.getByRole("button", { name: "Save deny rules" }).isDisabled()).toBe(true);
    await page.getByLabel("Denied permissions of rule 1").fill("projects.*");
    await page.getByLabel("Exception permissions of rule 1").fill("projects.get");
    await page.getByLabel("Description of rule 1").fill("eve is suspended");
    await page.getByRole("button", { name: "Save deny rules" }).click();
    await page.getByRole("status").filter({ hasText: "Deny rules saved." }).waitFor();
    await screenshot(page, "deny");
    const stored = await server.connect.denyPolicies.getDenyPolicy({ resource: "projects/mp" });
    expect(stored.rules.map((r) => [r.description, [...r.deniedPrincipals], [...r.deniedPermissions], [...r.exceptionPermissions]])).toEqual([
      ["eve is suspended", ["user:eve@example.com"], ["projects.*"], ["projects.get"]],
    ]);
  });

  test("custom roles: create, disable, delete and undelete", async () => {
    await open("organizations/model/roles");
    await page.getByRole("button", { name: "New custom role" }).click();
    await page.getByLabel("Role id").fill("auditor");
    await page.getByLabel("Title").fill("Auditor");
    await page.getByLabel("Permissions").fill("projects.get projects.nosuch");
    expect(await page.getByRole("button", { name: "Create role" }).isDisabled()).toBe(true);
    await page.getByLabel("Permissions").fill("projects.get projects.list");
    await page.getByRole("button", { name: "Create role" }).click();
    const row = page.locator('tr[data-role="organizations/model/roles/auditor"]');
    await row.waitFor();
    await page.getByRole("button", { name: "Disable auditor" }).click();
    await expect.poll(() => row.textContent()).toContain("DISABLED");
    await screenshot(page, "roles");
    await page.getByRole("button", { name: "Delete auditor" }).click();
    await page.getByRole("button", { name: "Undelete auditor" }).waitFor();
    expect((await server.connect.roles.getRole({ name: "organizations/model/roles/auditor" })).deleted).toBe(true);
    await page.getByRole("button", { name: "Undelete auditor" }).click();
    await page.getByRole("button", { name: "Delete auditor" }).waitFor();
    const role = await server.connect.roles.getRole({ name: "organizations/model/roles/auditor" });
    expect(role).toMatchObject({ deleted: false, title: "Auditor", includedPermissions: ["projects.get", "projects.list"] });
  });

  test("shared policies: created through SharedPolicyService, given a binding and a deny rule, bound, shown where bound", async () => {
    await open("organizations/model/shared");
    await page.getByLabel("Shared policy id").fill("baseline");
    await page.getByLabel("Shared policy display name").fill("Baseline");
    await page.getByRole("button", { name: "Create shared policy" }).click();
    await page.waitForURL(/#\/sharedPolicies\/baseline\/content$/);
    await page.getByRole("button", { name: "Add binding" }).click();
    await page.getByLabel("Role of shared binding 1").fill("roles/readonly");
    await page.getByLabel("Members of shared binding 1").fill("group:auditors");
    await page.getByRole("button", { name: "Add deny rule" }).click();
    await page.getByLabel("Denied principals of rule 1").fill("group:contractors");
    await page.getByLabel("Denied permissions of rule 1").fill("projects.delete");
    await page.getByRole("button", { name: "Save shared policy" }).click();
    await page.getByRole("status").filter({ hasText: "Shared policy saved." }).waitFor();
    await page.getByLabel("Bind to resource").fill("clouds/mc");
    await page.getByRole("button", { name: "Bind", exact: true }).click();
    await page.getByRole("button", { name: "Unbind from clouds/mc" }).waitFor();
    await screenshot(page, "shared");
    const sp = await server.connect.sharedPolicies.getSharedPolicy({ name: "sharedPolicies/baseline" });
    expect(sp.bindings.map((b) => [b.role, [...b.members]])).toEqual([["roles/readonly", ["group:auditors"]]]);
    expect(sp.denyRules.map((r) => [...r.deniedPrincipals])).toEqual([["group:contractors"]]);

    // Where it is bound, the policy page shows it (not "no bindings"), and the effective policy names it.
    await open("clouds/mc/policy");
    await page.getByRole("region", { name: "Shared policies bound here" }).getByText("group:auditors").waitFor();
    await page.getByRole("link", { name: "Effective policy" }).click();
    const row = page.getByRole("row").filter({ hasText: "group:auditors" });
    await row.waitFor();
    expect(await row.textContent()).toContain("through shared policy sharedPolicies/baseline");

    // Deleted from the organization's list, forcing its bindings away.
    await open("organizations/model/shared");
    await page.getByRole("button", { name: "Delete sharedPolicies/baseline…" }).click();
    await page.getByRole("dialog").getByLabel(/Also unbind it/).check();
    await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
    await page.getByRole("status").filter({ hasText: "Deleted sharedPolicies/baseline and its 1 bindings" }).waitFor();
    await expect(server.connect.sharedPolicies.getSharedPolicy({ name: "sharedPolicies/baseline" })).rejects.toThrow(/not found/i);
  });

  test("the analyzer: who can (a partly denied domain said so) and what can beneath an ancestor", async () => {
    await server.connect.denyPolicies.setDenyPolicy({
      resource: "projects/mp",
      denyPolicy: { rules: [{ deniedPrincipals: ["user:bob@example.com"], deniedPermissions: ["projects.update"] }] },
    });
    await open("analyzer?resource=projects%2Fmp");
    await page.locator('input[name="who-permission"]').fill("projects.update");
    await page.getByRole("button", { name: "Who can" }).click();
    const domain = page.locator('table.who-can tr[data-member="domain:example.com"]');
    await domain.waitFor();
    expect(await domain.textContent()).toContain("PARTLY DENIED: not to user:bob@example.com");
    expect(await page.locator('table.who-can tr[data-member="user:bob@example.com"]').count()).toBe(0);
    await screenshot(page, "analyzer");

    for (let i = 0; i < 3; i++) await server.connect.resources.createResource({ resource: { name: `projects/mq${i}`, parent: "clouds/mc" } });
    await page.getByLabel("Member and its groups").fill("user:carol@example.com");
    await page.locator('input[name="what-permission"]').fill("projects.get");
    await page.getByLabel("Resource type").selectOption("project");
    await page.getByLabel("Beneath (ancestor)").fill("organizations/model");
    await page.getByRole("button", { name: "What can" }).click();
    await page.locator("table.what-can").getByRole("link", { name: "projects/mq2" }).waitFor();
    // Every project beneath the organization that carol may get (other tests may have made more).
    const listed = await page.locator("table.what-can tbody tr a").allTextContents();
    expect(listed).toEqual(expect.arrayContaining(["projects/mp", "projects/mq0", "projects/mq1", "projects/mq2"]));
    const projects = await server.connect.resources.listResources({ type: "project", pageSize: 1000 });
    const beneath = projects.resources.filter((r) => r.parent === "clouds/mc").map((r) => r.name);
    expect(listed.filter((name) => name.startsWith("projects/")).sort()).toEqual(beneath.sort());
  });

  test("the policy by principal, beside by role", async () => {
    await server.connect.policies.setPolicy({
      resource: "projects/mp",
      policy: { bindings: [{ role: "roles/owner", members: ["user:ann@example.com"] }, { role: "roles/readonly", members: ["user:ann@example.com", "group:qa"] }] },
    });
    await open("projects/mp/policy");
    await page.getByRole("button", { name: "By principal" }).click();
    const ann = page.locator('table.by-principal tr[data-member="user:ann@example.com"]');
    await ann.waitFor();
    expect(await ann.textContent()).toContain("roles/owner");
    expect(await ann.textContent()).toContain("roles/readonly");
    await screenshot(page, "by-principal");
  });

  test("consumers: scope, acknowledged sequence, lag, and a failure with its message", async () => {
    await server.connect.sync.createConsumer({ consumer: { name: "consumers/edge", displayName: "Edge proxy", subtree: "organizations/model" } });
    const latest = await server.connect.policies.setPolicy({
      resource: "clouds/mc",
      policy: { bindings: [{ role: "roles/readonly", members: ["user:zoe@example.com"] }] },
    });
    void latest;
    const { entries } = await server.connect.audit.listAuditEntries({ resource: "clouds/mc", orderBy: "sequence desc", pageSize: 1 });
    const seq = entries[0]!.sequence;
    await server.connect.sync.acknowledgeChanges({
      consumer: "consumers/edge",
      sequence: seq,
      failures: [{ resource: "clouds/mc", sequence: seq, message: "edge rejected the policy: quota exceeded" }],
    });
    await open("consumers");
    const row = page.locator('tr[data-consumer="consumers/edge"]');
    await row.waitFor();
    expect(await row.textContent()).toContain(String(seq));
    expect(await row.textContent()).toContain("organizations/model");
    await page.locator("table.failures").getByText("edge rejected the policy: quota exceeded").waitFor();
    await screenshot(page, "consumers");
  });

  test("the audit log: newest first, filtered by action, each policy change as grants added and removed", async () => {
    await server.connect.resources.createResource({ resource: { name: "projects/audited", parent: "clouds/mc" } });
    await server.connect.policies.setPolicy({ resource: "projects/audited", policy: { bindings: [{ role: "roles/owner", members: ["user:first@example.com"] }] } });
    await server.connect.policies.setPolicy({ resource: "projects/audited", policy: { bindings: [{ role: "roles/owner", members: ["user:second@example.com"] }] } });
    await open("projects/audited/audit");
    const rows = page.locator("table.audit tbody tr[data-sequence]");
    await expect.poll(() => rows.count()).toBe(3);
    const sequences = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute("data-sequence"))));
    expect(sequences).toEqual([...sequences].sort((a, b) => b - a));
    const newest = rows.first();
    expect(await newest.textContent()).toContain("policy.set");
    expect(await newest.locator(".added").textContent()).toContain("user:second@example.com as roles/owner");
    expect(await newest.locator(".removed").textContent()).toContain("user:first@example.com as roles/owner");
    await page.getByLabel("Action").selectOption("resource.create");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain("resource.create");
    // The organization-wide view: the project's writes under its organization, newest first.
    await open("organizations/model/audit");
    await page.locator("table.audit").getByRole("link", { name: "projects/audited" }).first().waitFor();
    await screenshot(page, "audit");
  });

  test("the tree follows moves and deletes made elsewhere", async () => {
    const r = server.connect.resources;
    await r.createResource({ resource: { name: "organizations/elsewhere" } });
    await r.createResource({ resource: { name: "projects/wanderer", parent: "organizations/model", displayName: "Wanderer" } });
    await r.createResource({ resource: { name: "projects/doomed", parent: "organizations/model", displayName: "Doomed" } });
    await open("organizations/model");
    const item = (name: string) => page.locator(`[id="tree-${name}"]`);
    // Open both organizations (their twisties), as a person would.
    await page.locator('[id="tree-organizations/elsewhere"] .twisty').click();
    await page.locator('[id="tree-organizations/model"] .twisty').click();
    await item("projects/wanderer").waitFor();
    await item("projects/doomed").waitFor();
    await r.updateResource({ resource: { name: "projects/wanderer", parent: "organizations/elsewhere" }, updateMask: { paths: ["parent"] } });
    await r.deleteResource({ name: "projects/doomed" });
    // The moved project is under its new parent only, the deleted one is gone.
    await expect.poll(() => item("projects/doomed").count()).toBe(0);
    await expect.poll(() => item("projects/wanderer").getAttribute("aria-level")).toBe("2");
    expect(await item("projects/wanderer").count()).toBe(1);
    const order = await page.locator(".tree li[role=treeitem]").evaluateAll((lis) =>
      lis.sort((a, b) => parseFloat((a as HTMLElement).style.top) - parseFloat((b as HTMLElement).style.top)).map((li) => li.id),
    );
    expect(order.indexOf("tree-projects/wanderer")).toBe(order.indexOf("tree-organizations/elsewhere") + 1);
  });

  test("Skip to content goes to the content; focus returns after a dialog; an unsaved edit is not dropped silently", async () => {
    // The project has an owner binding to add to, whichever tests ran before.
    const current = await server.connect.policies.getPolicy({ resource: "projects/mp" });
    if (!current.bindings.some((b) => b.role === "roles/owner")) {
      await server.connect.policies.setPolicy({
        resource: "projects/mp",
        policy: { etag: current.etag, bindings: [...current.bindings, { role: "roles/owner", members: ["user:ann@example.com"] }] },
      });
    }
    await open("projects/mp/details");
    await page.getByRole("heading", { name: /Model Project/ }).waitFor();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await page.keyboard.press("Enter");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("main");
    expect(page.url()).toContain("#/projects/mp/details");

    const remove = page.getByRole("button", { name: "Delete projects/mp…" });
    await remove.focus();
    await remove.press("Enter");
    await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe("Delete projects/mp…");

    await page.getByRole("link", { name: "Policy", exact: true }).click();
    await page.getByLabel("Add member to roles/owner").fill("user:unsaved@example.com");
    await page.getByLabel("Add member to roles/owner").press("Enter");
    // Leaving asks first: dismissed, the page and the edit stay.
    page.once("dialog", (d) => void d.dismiss());
    await page.getByRole("link", { name: "Audit log" }).click();
    await expect.poll(() => page.url()).toContain("#/projects/mp/policy");
    expect(await page.locator(".members").first().textContent()).toContain("user:unsaved@example.com");
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("link", { name: "Audit log" }).click();
    await page.waitForURL(/#\/projects\/mp\/audit$/);
  });

  test("NOT_FOUND speaks to a console user; the tree scrolls inside its panel", async () => {
    await open("projects/nowhere");
    const alert = page.getByRole("alert").filter({ hasText: "NOT_FOUND" });
    await alert.waitFor();
    expect(await alert.textContent()).toContain("projects/nowhere does not exist, or you may not see it");
    expect(await alert.textContent()).not.toContain("ResourceService");
    expect(await page.getByRole("alert").count()).toBe(1);
    // The page never scrolls; the tree panel and the content do, each on its own.
    expect(await page.evaluate(() => document.documentElement.scrollHeight <= innerHeight)).toBe(true);
  });

  test("at phone width the layout fits: no sideways scrolling, long names wrap, the tree opens on demand", async () => {
    const long = `projects/${"very_long_project_name_".repeat(4)}x`;
    await server.connect.resources.createResource({ resource: { name: long, parent: "clouds/mc", displayName: "A".repeat(120) } });
    const phone = await launch(PHONE);
    try {
      await phone.page.goto(`${server.url}/console/#/${long}/effective`);
      await phone.page.getByRole("heading", { name: /AAAA/ }).waitFor();
      // Neither the document nor the content scrolls sideways (tables scroll inside their own box).
      const fits = () =>
        phone.page.evaluate(() => {
          const main = document.getElementById("main")!;
          return document.documentElement.scrollWidth <= document.documentElement.clientWidth && main.scrollWidth <= main.clientWidth;
        });
      expect(await fits()).toBe(true);
      await phone.page.getByRole("heading", { name: "Allow bindings" }).waitFor();
      await screenshot(phone.page, "phone-effective");
      await phone.page.getByRole("button", { name: "Resources" }).click();
      await phone.page.getByRole("treeitem", { name: /organizations\/model/ }).waitFor();
      expect(await fits()).toBe(true);
      await screenshot(phone.page, "phone-tree");
      await phone.page.goto(`${server.url}/console/#/projects/mp/troubleshoot`);
      await phone.page.getByLabel("Principals").fill("user:bob@example.com");
      await phone.page.getByLabel("Permissions").fill("projects.update");
      await phone.page.getByRole("button", { name: "Check access" }).click();
      await phone.page.locator(".result").waitFor();
      expect(await fits()).toBe(true);
      await screenshot(phone.page, "phone-troubleshoot");
      expect(phone.errors).toEqual([]);
    } finally {
      await phone.close();
    }
  });
});

describe.skipIf(SKIP_BROWSER)("the console when the server is down", { timeout: 90_000 }, () => {
  test("a clear message with a retry, and the page works once the server is back", async () => {
    const server = await startTestServer();
    const browser = await launch();
    try {
      await server.connect.resources.createResource({ resource: { name: "organizations/flaky" } });
      const page = browser.page;
      await page.goto(`${server.url}/console/#/organizations/flaky/effective`);
      await page.getByRole("heading", { name: "Allow bindings" }).waitFor();
      // The server goes away: requests fail at the network.
      await page.route("**/policy.v1.*/**", (route) => route.abort("connectionrefused"));
      await page.getByRole("link", { name: "Audit log" }).click();
      const alert = page.getByRole("alert").filter({ hasText: "cannot be reached" });
      await alert.waitFor();
      expect(await alert.textContent()).not.toContain("Failed to fetch");
      await page.unroute("**/policy.v1.*/**");
      await alert.getByRole("button", { name: "Retry" }).click();
      await page.locator("table.audit").getByText("resource.create").waitFor();
      expect(browser.errors).toEqual([]);
    } finally {
      await browser.close();
      await server.stop();
    }
  });
});
