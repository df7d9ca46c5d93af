/// <reference lib="dom" />
/**
 * The dashboard's quick-start walk-through on a running server, in headless Chromium (Debian's chromium):
 * ask the base model, submit the filled fine-tune form, compare answers side by side, submit the filled
 * unlearn form, compare again; prints each answer and saves docs/screenshots/dashboard-unlearn.png.
 * Takes minutes on the default model, so it is not part of the test suite.
 *
 *   deno task start &   # or any posttrain server with the built-in model
 *   deno run -A bench/dashboard_walkthrough.ts [http://127.0.0.1:8000/]
 */
import { launchChromium } from "../src/build/chromium.ts";
const base = Deno.args[0] ?? "http://127.0.0.1:8000/";
const dir = await Deno.makeTempDir();
const browser = await launchChromium(dir);
const page = await browser.newPage();
page.on("pageerror", (e) => console.log("pageerror:", String(e)));
await page.setViewport({ width: 1280, height: 900 });
await page.goto(base, { waitUntil: "networkidle0" });
await page.click(".card .actions button.primary");
await page.waitForFunction(() => document.querySelector(".answers q"), { timeout: 60000 });
console.log("ask:", await page.$eval(".answers", (e) => e.textContent));
const run = async (href: string) => {
  await page.goto(base + href, { waitUntil: "networkidle0" });
  await page.waitForSelector("#plan .plan", { timeout: 60000 });
  console.log("plan:", await page.$eval("#plan .plan-total", (e) => e.textContent));
  await page.click("#job-form button[type=submit]");
  await page.waitForFunction(() => location.hash.startsWith("#/jobs/"));
  await page.waitForFunction(() => document.querySelector(".job-head .badge")?.textContent === "succeeded", {
    timeout: 300000,
  });
  await page.waitForSelector("#gen-form button[type=submit]:not([disabled])");
  await page.click("#gen-form button[type=submit]");
  await page.waitForFunction(() => {
    const t = document.querySelector("#gen-job")?.textContent ?? "";
    return t && !t.includes("generating");
  }, { timeout: 60000 });
  await new Promise((r) => setTimeout(r, 300));
  console.log(
    "base:",
    await page.$eval("#gen-base", (e) => e.textContent),
    "| job:",
    await page.$eval("#gen-job", (e) => e.textContent),
  );
};
await run("#/new/finetune?preset=teach");
await run("#/new/unlearn?preset=forget");
await page.screenshot({ path: "docs/screenshots/dashboard-unlearn.png", fullPage: true });
await browser.close();
