/**
 * Headless Debian Chromium driven by playwright-core, for the console's browser tests.
 * A fresh profile per browser (no state shared between tests), no network chatter of its own.
 */
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = process.env.GATEHOUSE_CHROMIUM ?? "/usr/bin/chromium";

export interface TestBrowser {
  browser: Browser;
  /** A new isolated context (its own cookies): one per person. */
  person(): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

/**
 * `args`: more Chromium switches, e.g. `--host-resolver-rules=MAP *.gatehouse.test 127.0.0.1` (tenants'
 * host names on loopback) and `--ignore-certificate-errors-spki-list=<pin>` (trust one test key).
 */
export async function startBrowser(opts: { args?: string[] } = {}): Promise<TestBrowser> {
  // playwright-core gives every launch a fresh temporary profile (it refuses --user-data-dir on launch()).
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...(opts.args ?? []),
    ],
  });
  const contexts: BrowserContext[] = [];
  return {
    browser,
    person: async () => {
      const context = await browser.newContext({ acceptDownloads: true });
      contexts.push(context);
      return { context, page: await context.newPage() };
    },
    close: async () => {
      for (const c of contexts) await c.close().catch(() => {});
      await browser.close();
    },
  };
}

/** Signs in through the development issuer's login page (OIDC code + PKCE) and lands on `path`. */
export async function signInWithDevIssuer(page: Page, gatewayUrl: string, name: string, groups: string[], path = "/console/"): Promise<void> {
  await page.goto(`${gatewayUrl}${path}`);
  await page.getByRole("link", { name: /Sign in with the development issuer/ }).click();
  await page.getByLabel("Name").fill(name);
  for (const g of groups) await page.getByRole("checkbox", { name: g }).check();
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => u.pathname.startsWith("/console/"));
}
