// 10,000 children in the console: the tree stays a virtual list (a few dozen rows in the page whatever the size), its
// pages load as it is scrolled or walked by keyboard, and a display name beyond what is loaded is found on the server.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { startTestServer, type TestServer } from "../../test/helpers/server.js";
import { launch, screenshot, SKIP_BROWSER, type Browser } from "./browser.js";

const CHILDREN = 10_000;
const id = (i: number) => `projects/big${String(i).padStart(5, "0")}`;

describe.skipIf(SKIP_BROWSER)("a cloud of 10,000 projects in the console", { timeout: 180_000 }, () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launch()]);
    const r = server.connect.resources;
    await r.createResource({ resource: { name: "organizations/big" } });
    await r.createResource({ resource: { name: "clouds/big", parent: "organizations/big", displayName: "Big cloud" } });
    for (let i = 0; i < CHILDREN; i += 200) {
      await Promise.all(
        Array.from({ length: 200 }, (_, j) =>
          r.createResource({ resource: { name: id(i + j), parent: "clouds/big", displayName: i + j === 9_500 ? "Needle service" : `Service ${i + j}` } }),
        ),
      );
    }
  }, 170_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });
  afterEach(() => {
    expect(browser.errors.splice(0), "uncaught errors in the page").toEqual([]);
  });

  test("the tree draws only what is on screen, loads pages as it goes, and finds a display name on the server", async () => {
    const page = browser.page;
    await page.goto(`${server.url}/console/#/clouds/big`);
    await page.getByRole("heading", { name: /Big cloud/ }).waitFor();
    const rows = () => page.locator(".tree li[role=treeitem]").count();
    const focused = () => page.evaluate(() => document.activeElement?.id ?? "");
    await page.locator('[id="tree-clouds/big"]').focus();
    await page.keyboard.press("ArrowRight");
    await page.locator(`[id="tree-${id(0)}"]`).waitFor();
    // A page of 1,000 children is loaded (and perhaps the next, ahead), not all 10,000; a few dozen rows are in the page.
    const setsize = Number(await page.locator(`[id="tree-${id(0)}"]`).getAttribute("aria-setsize"));
    expect([1001, 2001]).toContain(setsize);
    expect(await rows()).toBeLessThan(100);
    // End reaches the row that loads the next page, which loads as it comes into view; on to the 10,000th.
    for (let i = 0; i < 40 && (await focused()) !== `tree-${id(CHILDREN - 1)}`; i++) {
      await page.keyboard.press("End");
      // Focus leaves the "more" row when its page has loaded (to the first child it brought).
      await page.waitForFunction(() => !document.activeElement?.id.startsWith("tree-more-"));
      // Never to <body>, even when End lands on the row while its page is already loading ahead.
      expect(await focused()).toMatch(/^tree-projects\//);
    }
    await expect.poll(focused).toBe(`tree-${id(CHILDREN - 1)}`);
    expect(await page.locator(`[id="tree-${id(CHILDREN - 1)}"]`).getAttribute("aria-posinset")).toBe(String(CHILDREN));
    expect(await rows()).toBeLessThan(100);
    // The page did not grow: the tree panel scrolls, not the document.
    expect(await page.evaluate(() => document.documentElement.scrollHeight <= innerHeight)).toBe(true);
    await screenshot(page, "tree-10000");

    // A fresh load: the needle (9,500th) is far beyond the first page, and the server finds it by display name.
    await page.goto(`${server.url}/console/?again#/organizations/big`);
    await page.getByRole("heading", { name: /organizations\/big/ }).waitFor();
    await page.getByLabel("Find a resource").fill("needle");
    await page.getByRole("button", { name: "Find" }).click();
    await page.getByRole("status").filter({ hasText: `Found by display name: ${id(9_500)}` }).waitFor();
    await page.getByRole("heading", { name: /Needle service/ }).waitFor();
    await page.locator(`[id="tree-${id(9_500)}"][aria-selected="true"]`).waitFor();
  });
});
