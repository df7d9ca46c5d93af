/**
 * Issue 15, evidence: headless Chromium (Debian's package, driven by puppeteer-core) opens the app's
 * /playground page, which fine-tunes LoRA on the served model inside the tab (lean on our WASM kernels,
 * in a Web Worker); the adapter equals the Deno lean job of the same request within 1e-6, the loss
 * falls, and the page's own button run ends with the adapter files offered as downloads. The same page
 * served by workerd (the Workers bundle: the page from the Durable Object, its script as a static asset)
 * gives the same adapter.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromiumMissing, launchChromium } from "../../src/build/chromium.ts";
import { buildBrowser } from "../../src/build/browser.ts";
import { buildWorker } from "../../src/build/worker.ts";
import { startWorkerd, workerdBinary } from "../../src/build/worker_serve.ts";
import { testApp } from "../routes/_app.ts";
import {
  assertAdapterClose,
  denoAdapter,
  freePort,
  loraRequest,
  skipUnless,
  tensorsOf,
  tinyModel,
} from "./_edge.ts";

const ignore = skipUnless("Chromium", await chromiumMissing());

Deno.test({
  name:
    "browser: the /playground page fine-tunes LoRA in headless Chromium; the adapter equals the Deno lean run (1e-6), the loss falls, the files are offered",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { root, model } = await tinyModel();
    const web = await buildBrowser(join(root, "web"));
    const t = await testApp({
      models: new Map([["default", model]]),
      defaultBackend: "lean",
      playground: {
        script: () => Deno.readFile(join(web.out, "posttrain.js")),
        kernels: () => Deno.readFile(join(web.out, "kernels.wasm")),
      },
    });
    const port = freePort();
    const server = Deno.serve({ port, hostname: "127.0.0.1", onListen: () => {} }, t.app.fetch);
    const browser = await launchChromium(join(root, "profile"));
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`http://127.0.0.1:${port}/playground`);
      const req = loraRequest(12);
      type Tab = { files: Record<string, string>; losses: number[] };
      type Playground = { posttrainPlayground: { run(body: unknown): Promise<Tab> } };
      const got = await page.evaluate(
        (body) =>
          (globalThis as unknown as Playground).posttrainPlayground.run(body).then((r) => ({
            files: r.files,
            losses: r.losses,
          })),
        req,
      );
      assert.deepEqual(Object.keys(got.files).sort(), ["adapter_config.json", "adapter_model.safetensors"]);
      const bytes = Uint8Array.from(atob(got.files["adapter_model.safetensors"]), (c) => c.charCodeAt(0));
      assertAdapterClose(tensorsOf(bytes), await denoAdapter(model, req));
      assert.equal(got.losses.length, 12);
      assert.ok(got.losses.at(-1)! < got.losses[0], `loss ${got.losses[0]} → ${got.losses.at(-1)}`);

      // the page's own controls: a short run, the status line, the curve and the download links
      await page.$eval("#steps", (e) => ((e as unknown as { value: string }).value = "3"));
      await page.click("#go");
      await page.waitForSelector("#files a:nth-child(2)", { timeout: 120_000 });
      const names = await page.$$eval("#files a", (as) => as.map((a) => a.getAttribute("download")));
      assert.deepEqual(names.sort(), ["adapter_config.json", "adapter_model.safetensors"]);
      assert.match(await page.$eval("#status", (e) => e.textContent ?? ""), /^Done in/);
      assert.equal((await page.$eval("#line", (e) => e.getAttribute("points") ?? "")).split(" ").length, 3);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await server.shutdown();
      await t.close();
      await Deno.remove(t.dir, { recursive: true });
      await Deno.remove(root, { recursive: true });
    }
  },
});

const noWorkerd = ignore || await workerdBinary().then(() => false, () => true);

Deno.test({
  name:
    "browser: the /playground page served by workerd fine-tunes in the tab to the same adapter as Deno's lean run",
  ignore: noWorkerd,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { root, model } = await tinyModel();
    const bundle = await buildWorker({ model, out: join(root, "bundle"), int8: "no" });
    const port = freePort();
    const w = await startWorkerd({ bundle: bundle.out, port, storageDir: join(root, "do"), stdout: "null" });
    const browser = await launchChromium(join(root, "profile"));
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${port}/playground`);
      const req = loraRequest(6);
      type Playground = {
        posttrainPlayground: { run(body: unknown): Promise<{ files: Record<string, string> }> };
      };
      const files = await page.evaluate(
        (body) => (globalThis as unknown as Playground).posttrainPlayground.run(body).then((r) => r.files),
        req,
      );
      const bytes = Uint8Array.from(atob(files["adapter_model.safetensors"]), (c) => c.charCodeAt(0));
      assertAdapterClose(tensorsOf(bytes), await denoAdapter(model, req));
    } finally {
      await browser.close();
      w.child.kill("SIGKILL");
      await w.child.status;
      await Deno.remove(root, { recursive: true });
    }
  },
});
