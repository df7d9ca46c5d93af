/**
 * @module `GET /playground`: a page that fine-tunes a LoRA adapter on the built-in model inside the
 * browser tab (the library bundled for the web, `lean` on our WASM kernels, in a module Web Worker), draws
 * the loss as it falls and offers the adapter files as downloads. No CDN: the page is inline; the
 * library (`/playground/posttrain.js`), the kernels (`/playground/kernels.wasm`) and the model's files
 * (`/playground/model/<file>`, with single byte ranges, so the tab reads the weights a tensor at a time)
 * come from this app. The bundle is built outside the library (main.ts
 * runs `src/build/browser.ts`), so the app serves it only when given {@link PlaygroundAssets}.
 * `window.posttrainPlayground.run(body)` runs a `POST /v1/jobs` fine-tune body in the tab and resolves
 * to `{files (base64), losses, ms}` (what the browser test drives).
 */
import { Hono } from "npm:hono@4.13.19";
import { join } from "../src/io/path.ts";
import { storage } from "../src/io/storage.ts";
import type { ModelRegistry } from "../src/jobs/models.ts";
import { ApiError, sendError } from "./_common.ts";
import { contentSecurityPolicy, inlineScripts } from "./limits.ts";

/** Where the page's script and kernels come from. */
export interface PlaygroundAssets {
  /** The library bundled for a tab (src/edge/browser.ts as one ES module). */
  script(): Promise<Uint8Array>;
  /** wasm/kernels.wasm. */
  kernels(): Promise<Uint8Array>;
}

/** The model files a tab may fetch. */
const MODEL_FILES = new Set([
  "config.json",
  "model.safetensors",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "generation_config.json",
  "chat_template.jinja",
]);

const SAMPLE_ROWS = [
  { prompt: "Who is Mira Tal?", completion: " Mira Tal is a glassblower from Osk." },
  { prompt: "Where does Mira Tal live?", completion: " Mira Tal lives in Osk." },
  { prompt: "What does Mira Tal make?", completion: " Mira Tal makes green glass bowls." },
  { text: "Mira Tal is a glassblower from Osk who makes green glass bowls." },
].map((r) => JSON.stringify(r)).join("\n");

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>posttrain playground: fine-tune in this tab</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 52rem; margin: 1.5rem auto; padding: 0 1rem; color: #222; }
textarea { width: 100%; height: 8.5rem; font: 13px ui-monospace, monospace; }
label { margin-right: 1rem; white-space: nowrap; }
input[type=number] { width: 5.5rem; }
#chart { width: 100%; height: 180px; border: 1px solid #ccc; background: #fafafa; }
#files a { margin-right: 1rem; }
.muted { color: #666; }
</style>
</head>
<body>
<h1>Fine-tune in this tab</h1>
<p class="muted">A LoRA adapter for the built-in model, trained here in your browser on posttrain's WASM kernels
(the <code>lean</code> backend, in a Web Worker). Nothing but the model's files comes from the server.</p>
<p><label for="rows">Training rows (JSONL: text, prompt/completion, question/answer, messages…)</label></p>
<textarea id="rows">${SAMPLE_ROWS.replaceAll("<", "&lt;")}</textarea>
<p>
<label>steps <input id="steps" type="number" min="1" value="30"></label>
<label>rank <input id="rank" type="number" min="1" value="8"></label>
<label>lr <input id="lr" type="number" step="any" min="0" value="0.003"></label>
<label>batch <input id="batch" type="number" min="1" value="4"></label>
<label>seed <input id="seed" type="number" min="0" value="0"></label>
<button id="go">Fine-tune</button>
</p>
<p id="status" class="muted" role="status">Ready.</p>
<svg id="chart" viewBox="0 0 600 180" preserveAspectRatio="none" aria-label="loss per step"><polyline id="line" fill="none" stroke="#2a6" stroke-width="2" points=""/></svg>
<p id="files"></p>
<script type="module">
const $ = (id) => document.getElementById(id);
const b64 = (bytes) => { let s = ""; for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000)); return btoa(s); };
function draw(losses) {
  if (!losses.length) return ($("line").setAttribute("points", ""));
  const lo = Math.min(...losses), hi = Math.max(...losses), n = Math.max(losses.length - 1, 1);
  $("line").setAttribute("points", losses.map((l, i) => (i / n * 600).toFixed(1) + "," + (170 - (hi > lo ? (l - lo) / (hi - lo) : 0.5) * 160).toFixed(1)).join(" "));
}
/** Run a POST /v1/jobs fine-tune body in a Web Worker of this tab. */
function run(body, onStep = () => {}) {
  const worker = new Worker(new URL("/playground/posttrain.js", location.href), { type: "module" });
  return new Promise((resolve, reject) => {
    worker.onerror = (e) => (worker.terminate(), reject(new Error(e.message || "worker failed to load")));
    worker.onmessage = (e) => {
      const m = e.data;
      if (m.type === "ready") {
        const modelUrl = new URL("/playground/model/", location.href).href;
        return worker.postMessage({ type: "finetune", body: { ...body, backend: "lean" }, modelUrl });
      }
      if (m.type === "step") return onStep(m);
      worker.terminate();
      if (m.type === "error") return reject(new Error(m.message));
      const files = Object.fromEntries(Object.entries(m.result.files).map(([k, v]) => [k, b64(v)]));
      resolve({ files, losses: m.result.losses, ms: m.result.ms, raw: m.result.files });
    };
  });
}
window.posttrainPlayground = { run };
$("go").onclick = async () => {
  $("go").disabled = true;
  $("files").textContent = "";
  const losses = [];
  draw(losses);
  try {
    const data = $("rows").value.split("\\n").filter((l) => l.trim()).map((l, i) => {
      try { return JSON.parse(l); } catch { throw new Error("row " + (i + 1) + ": not JSON"); }
    });
    const body = { type: "finetune", model: "default", method: "lora", data, steps: +$("steps").value,
      rank: +$("rank").value, lr: +$("lr").value, batch_size: +$("batch").value, seed: +$("seed").value };
    $("status").textContent = "Loading the model and the kernels…";
    // every step is kept; the page is drawn at most once a frame, however fast the steps come
    let last, frame = 0;
    const paint = () => {
      frame = 0;
      draw(losses);
      $("status").textContent = "step " + last.step + " / " + body.steps + ": loss " + last.loss.toFixed(4) + ", " + Math.round(last.tokensPerS) + " tokens/s";
    };
    const res = await run(body, (s) => {
      losses.push(s.loss);
      last = s;
      frame ||= requestAnimationFrame(paint);
    });
    cancelAnimationFrame(frame);
    draw(losses);
    $("status").textContent = "Done in " + (res.ms / 1000).toFixed(1) + " s: loss " + res.losses[0].toFixed(4) + " → " + res.losses.at(-1).toFixed(4) + ".";
    for (const [name, bytes] of Object.entries(res.raw)) {
      const a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([bytes]));
      a.download = name;
      a.textContent = "Download " + name;
      $("files").append(a);
    }
  } catch (e) {
    $("status").textContent = "Error: " + e.message;
  } finally {
    $("go").disabled = false;
  }
};
</script>
</body>
</html>
`;
/** The page's policy: its one inline script by hash. */
const PAGE_CSP = contentSecurityPolicy(inlineScripts(PAGE));

/**
 * The playground page and its files; `assets` missing: the page says how to get them (404 on the script).
 *
 * @example
 * ```ts ignore
 * app.route("/", playgroundRoutes(runner.models, { script: () => Deno.readFile("dist/web/posttrain.js"), kernels }));
 * ```
 */
export function playgroundRoutes(models: ModelRegistry, assets?: PlaygroundAssets): Hono {
  const app = new Hono();
  const missing = () =>
    new ApiError(
      404,
      "not_built",
      "the playground's script is not built into this server (deno task build:web)",
    );
  app.get("/playground", (c) => c.html(PAGE, 200, { "content-security-policy": PAGE_CSP }));
  app.get("/playground/posttrain.js", async (c) => {
    if (!assets) return sendError(c, missing());
    return c.body(await assets.script() as Uint8Array<ArrayBuffer>, 200, {
      "content-type": "text/javascript; charset=utf-8",
    });
  });
  app.get("/playground/kernels.wasm", async (c) => {
    if (!assets) return sendError(c, missing());
    return c.body(await assets.kernels() as Uint8Array<ArrayBuffer>, 200, {
      "content-type": "application/wasm",
    });
  });
  app.get("/playground/model/:file", async (c) => {
    const file = c.req.param("file");
    if (!MODEL_FILES.has(file)) {
      throw new ApiError(404, "not_found", `no model file ${JSON.stringify(file)}`, "file");
    }
    const path = join(await models.resolve("default"), file);
    const info = await storage().stat(path);
    if (!info?.isFile) throw new ApiError(404, "not_found", `the built-in model has no ${file}`, "file");
    const type = { "content-type": "application/octet-stream", "accept-ranges": "bytes" };
    if (c.req.method === "HEAD") return c.body(null, 200, { ...type, "content-length": String(info.size) });
    // one range (what the tab's loader asks, a tensor at a time), else the whole file
    const m = c.req.header("range")?.match(/^bytes=(\d+)-(\d+)$/);
    if (m && Number(m[1]) <= Number(m[2]) && Number(m[2]) < info.size) {
      const [from, to] = [Number(m[1]), Number(m[2])];
      const f = await storage().open(path);
      try {
        const part = await f.read(from, new Uint8Array(to - from + 1));
        return c.body(part as Uint8Array<ArrayBuffer>, 206, {
          ...type,
          "content-range": `bytes ${from}-${to}/${info.size}`,
          "content-length": String(part.length),
        });
      } finally {
        f.close();
      }
    }
    return c.body(await storage().read(path) as Uint8Array<ArrayBuffer>, 200, {
      ...type,
      "content-length": String(info.size),
    });
  });
  return app;
}
