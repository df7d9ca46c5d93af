/// <reference lib="dom" />
/**
 * The dashboard in headless Chromium (Debian's `chromium`, driven by puppeteer-core; no browser is
 * downloaded) against the real server (main.ts) with a bearer token and a tiny model: the token is
 * asked for once, a malformed row and a row the server refuses are each shown beside their row, a
 * LoRA job submitted through the form (from the keyboard) draws a loss curve that gains points while
 * it runs (the page keeping up with the job's step, however fast events come) and is canceled with
 * the Cancel button, a second one's artifact is downloaded and its
 * sha256 equals the API's, and no page is wider than a phone. With POSTTRAIN_SCREENSHOTS=DIR the
 * screenshots go to DIR (docs/ holds the ones the README shows); else to a temp dir.
 * Without /usr/bin/chromium the test is skipped with a message, except in CI (CI=true), where
 * .ci/run installs it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "puppeteer-core";
import { CHROMIUM, chromiumMissing, launchChromium } from "../../src/build/chromium.ts";
import { startServer } from "./_server.ts";
import { ROWS, sha256, tinyModelDir } from "./_app.ts";

const TOKEN = "s3cret-token";
/**
 * How long any one wait may take: a slow or busy machine must not fail the test, only a stall may
 * (the server itself waits up to 60 s for a canceled job to stop).
 */
const WAIT = 120_000;
/** The steps of the job that is canceled: the most a job may ask for. */
const LONG_STEPS = 1_000_000;

const haveBrowser = (await chromiumMissing()) === undefined;
if (!haveBrowser) {
  if (Deno.env.get("CI") === "true") {
    throw new Error(`${CHROMIUM} is missing (.ci/run installs Debian's chromium)`);
  }
  console.error(`dashboard test skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);
}

/** Poll `fn` in Deno until it returns a truthy value. */
async function until<T>(fn: () => Promise<T>, what: string, ms = WAIT): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Replace a field's value as a user would (select all, type). */
async function fill(page: Page, selector: string, text: string): Promise<void> {
  await page.$eval(selector, (el, v) => {
    (el as HTMLInputElement).value = v;
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }, text);
}

async function noWiderThanViewport(page: Page, what: string): Promise<void> {
  const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
  assert.ok(scroll <= width, `${what}: page is ${scroll} px wide in a ${width} px viewport`);
}

Deno.test({
  name:
    "dashboard in Chromium: token asked once (reads are private), row errors beside the rows, a LoRA job's loss curve grows while it runs and the page keeps up with its step, cancel, artifact sha256 = the API's, phone width",
  ignore: !haveBrowser,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const shots = Deno.env.get("POSTTRAIN_SCREENSHOTS") ?? join(dir, "shots");
    await Deno.mkdir(shots, { recursive: true });
    await tinyModelDir(join(dir, "models", "tiny"));
    const srv = await startServer({
      POSTTRAIN_TOKEN: TOKEN,
      POSTTRAIN_MODELS_ROOT: join(dir, "models"),
      POSTTRAIN_DATA_DIR: join(dir, "data"),
      POSTTRAIN_KV: "memory",
      POSTTRAIN_BACKEND: "node",
      POSTTRAIN_CHUNK_STEPS: "10",
    });
    const browser = await launchChromium(join(dir, "profile"));
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${srv.url}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...init.headers } });
    // how long each part took, and the server's log: printed when the test fails
    const t0 = Date.now();
    const marks: string[] = [];
    const mark = (what: string) => marks.push(`${((Date.now() - t0) / 1000).toFixed(1)} s ${what}`);
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(WAIT);
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.setViewport({ width: 1280, height: 860 });
      await page.goto(`${srv.url}/#/new/finetune`, { waitUntil: "networkidle0" });
      // reads need the token too (POSTTRAIN_TOKEN, reads not public): the first one asks for it, once
      await page.waitForSelector("#token-dialog[open]");
      mark("page loaded");
      await page.type("#token-input", TOKEN);
      await page.keyboard.press("Enter");
      await page.waitForSelector('#f-model option[value="tiny"]');
      await page.select("#f-model", "tiny");
      await page.select("#f-method", '"lora"');
      // long enough that no slow browser sees it end before the Cancel press (5,000 ran out in ≈ 27 s here)
      await fill(page, "#f-steps", String(LONG_STEPS));
      await fill(page, "#f-lr", "0.01");
      await fill(page, "#f-batch_size", "3");

      // a malformed row: its error beside it, before anything is sent
      const rows = ROWS.map((r) => JSON.stringify(r));
      await fill(page, "#f-data", [rows[0], '{"prompt": "the hello", "completion": ', rows[1]].join("\n"));
      const clientError = await page.waitForSelector('#rows-data li.bad[data-row="1"] .row-error');
      assert.match(await clientError!.evaluate((e) => e.textContent!), /not valid JSON/);
      assert.equal(await page.$$eval("#rows-data li.ok", (l) => l.length), 2);

      // a row only the server can judge (longer than the tiny model's context): the plan's 422, beside row 2;
      await fill(
        page,
        "#f-data",
        [...rows, JSON.stringify({ text: "hello the world, ".repeat(30) })].join("\n"),
      );
      const serverError = await page.waitForSelector('#rows-data li.bad[data-row="3"] .row-error');
      assert.match(await serverError!.evaluate((e) => e.textContent!), /context/);
      await page.screenshot({ path: join(shots, "dashboard-form-errors.png"), fullPage: true });

      // good rows: the plan appears, with the budgets it fits; submit from the keyboard
      await fill(page, "#f-data", rows.join("\n"));
      await page.waitForSelector("#plan .plan .fits");
      mark("plan shown");
      const planned = await page.$eval("#plan .plan", (e) => Number((e as HTMLElement).dataset.total));
      const apiPlan = await (await api("/v1/plan", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          type: "finetune",
          model: "tiny",
          method: "lora",
          data: ROWS,
          steps: LONG_STEPS,
          lr: 0.01,
          batch_size: 3,
        }),
      })).json();
      assert.equal(planned, apiPlan.total_bytes);
      await page.screenshot({ path: join(shots, "dashboard-form.png"), fullPage: true });
      await page.focus("#job-form button[type=submit]");
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => location.hash.startsWith("#/jobs/"));
      mark("job submitted");
      const longId = await page.evaluate(() => location.hash.split("/")[2]);

      // the loss curve gains points while the job runs
      const points = () =>
        page.evaluate(() =>
          Number(document.querySelector<HTMLElement>('[data-curve="loss"]')?.dataset.points ?? 0)
        );
      const status = () => page.evaluate(() => document.querySelector(".job-head .badge")?.textContent);
      const first = await until(async () => (await points()) || 0, "the first loss points");
      mark("first loss points");
      const later = await until(async () => {
        const n = await points();
        return n > first ? n : 0;
      }, "more loss points");
      assert.equal(await status(), "running", `points ${first} → ${later} while running`);
      mark("more loss points");
      await page.screenshot({ path: join(shots, "dashboard-job-running.png"), fullPage: true });

      // the page keeps up with a job that streams hundreds of progress events a second: after 10 s of
      // them it shows the step the server had reached, at once (with a redraw per event it fell further
      // behind every second, and answered nothing meanwhile: 75 s late after 5,000 steps)
      await new Promise((r) => setTimeout(r, 10_000));
      const serverStep = (await (await api(`/v1/jobs/${longId}`)).json()).progress.step;
      const shown = () => page.$eval(".job-head progress", (e) => (e as HTMLProgressElement).value);
      await until(async () => (await shown()) >= serverStep, `the page to show step ${serverStep}`, 10_000);
      mark("kept up");

      // cancel with the button, from the keyboard
      assert.equal(await page.$eval("#cancel", (b) => (b as HTMLButtonElement).hidden), false);
      await page.focus("#cancel");
      await page.keyboard.press("Enter");
      mark("cancel pressed");
      await page.waitForFunction(() =>
        document.querySelector(".job-head .badge")?.textContent === "canceled"
      );
      assert.equal((await (await api(`/v1/jobs/${longId}`)).json()).status, "canceled");
      mark("canceled");

      // a short job to the end: download an artifact in the browser, compare its sha256 with the API's
      const res = await api("/v1/jobs", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          type: "finetune",
          model: "tiny",
          method: "lora",
          data: ROWS,
          steps: 12,
          lr: 0.01,
        }),
      });
      const { id } = await res.json();
      const downloads = join(dir, "downloads");
      await Deno.mkdir(downloads);
      const cdp = await page.createCDPSession();
      await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: downloads });
      await page.goto(`${srv.url}/#/jobs/${id}`, { waitUntil: "networkidle0" });
      await page.waitForSelector('#artifacts button[data-artifact="adapter_model.safetensors"]');
      await page.click('#artifacts button[data-artifact="adapter_model.safetensors"]');
      const file = join(downloads, "adapter_model.safetensors");
      const bytes: Uint8Array = await until(async () => {
        try {
          return await Deno.readFile(file);
        } catch {
          return undefined;
        }
      }, "the downloaded file") as Uint8Array;
      const listed = (await (await api(`/v1/jobs/${id}/artifacts`)).json()).data
        .find((a: { name: string }) => a.name === "adapter_model.safetensors");
      assert.equal(await sha256(bytes), listed.sha256);
      mark("artifact downloaded");
      await page.waitForFunction(() =>
        document.querySelector(".verify.ok")?.textContent?.includes("verified")
      );
      await page.screenshot({ path: join(shots, "dashboard-job.png"), fullPage: true });

      // the overview lists both jobs, the models with family and size
      await page.goto(`${srv.url}/#/`, { waitUntil: "networkidle0" });
      await page.waitForSelector(`#jobs-table tr[data-id="${id}"]`);
      assert.equal(
        await page.$eval(`#jobs-table tr[data-id="${longId}"]`, (e) => (e as HTMLElement).dataset.status),
        "canceled",
      );
      await page.waitForSelector("#models-table tbody tr");
      assert.match(await page.$eval("#models-table tbody", (e) => e.textContent!), /tiny.*llama/s);
      await page.screenshot({ path: join(shots, "dashboard-overview.png"), fullPage: true });
      mark("overview");

      // phone width: nothing wider than the screen
      await page.setViewport({ width: 390, height: 844, isMobile: true });
      for (
        const [hash, ready] of [["#/", "#jobs-table"], ["#/new/finetune", "#job-form"], [
          `#/jobs/${id}`,
          "#artifacts-table",
        ]]
      ) {
        await page.goto(`${srv.url}/${hash}`);
        await page.waitForSelector(ready);
        await noWiderThanViewport(page, hash);
      }
      await page.screenshot({ path: join(shots, "dashboard-phone.png"), fullPage: true });
      assert.deepEqual(errors, []);
    } catch (e) {
      mark("failed");
      console.error(`dashboard test, parts:\n${marks.join("\n")}\nserver log:\n${srv.log()}`);
      throw e;
    } finally {
      await browser.close();
      await srv.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
