/**
 * @module Headless Chromium for the browser tests and benches (Debian's `chromium`, driven by
 * puppeteer-core; no browser is downloaded): one launch with the same flags everywhere.
 */
import puppeteer, { type Browser } from "npm:puppeteer-core@25.16.0";

/** The browser binary: `$CHROMIUM`, else Debian's. */
export const CHROMIUM: string = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

/** Why Chromium cannot be used here, or undefined when it can. */
export async function chromiumMissing(): Promise<string | undefined> {
  return await Deno.stat(CHROMIUM).then(
    (s) => s.isFile ? undefined : `${CHROMIUM} is not a file`,
    () => `no ${CHROMIUM} (apt-get install -y chromium)`,
  );
}

/**
 * Chromium headless, without GPU, network chatter or first-run pages, on a fresh profile dir.
 *
 * @example
 * ```ts ignore
 * const browser = await launchChromium(await Deno.makeTempDir());
 * const page = await browser.newPage();
 * ```
 */
export async function launchChromium(
  profile: string,
  opts: { protocolTimeout?: number } = {},
): Promise<Browser> {
  return await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    ...opts,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${profile}`,
    ],
  });
}
