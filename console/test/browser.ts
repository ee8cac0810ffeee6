// Debian's chromium driven by playwright-core (which downloads no browser): headless, a fresh profile, no traffic of
// its own. Where chromium is missing the browser tests skip with one line, except under CI=true, where they fail.
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
/** Skip only outside CI: there a missing browser is a broken setup, not a reason to pass. */
export const SKIP_BROWSER = !HAVE_CHROMIUM && process.env.CI !== "true";
if (SKIP_BROWSER) console.log(`console browser tests skipped: no chromium at ${CHROMIUM} (apt-get install chromium)`);

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Uncaught errors of the page (each a test failure: the console must never throw at its user). */
  errors: string[];
  close(): Promise<void>;
}

/** The widths the console is tried at: a laptop and a phone. */
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export async function launch(viewport = DESKTOP): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "console-chromium-"));
  // launchPersistentContext is playwright's way to pass --user-data-dir.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport,
    timeout: 30_000,
  });
  // Generous: CI runs these beside the rest of the suite on two cores.
  context.setDefaultTimeout(20_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on("pageerror", (e) => {
    errors.push(e.stack ?? e.message);
    console.error(`console page error: ${e.stack ?? e.message}`);
  });
  return {
    context,
    page,
    errors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** docs/ when UPDATE_SCREENSHOTS=1 (the pictures in docs/console.md), else .vitest/screenshots (not committed). */
const SHOTS = fileURLToPath(new URL(process.env.UPDATE_SCREENSHOTS === "1" ? "../../docs/" : "../../.vitest/screenshots/", import.meta.url));

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `console-${name}.png`), fullPage: false });
}
