// A job's page: status and progress, live curves (uPlot) from the job's history and its event
// stream, the result figures, a coreset's selection summary, artifacts (downloaded with their
// sha256 checked in the browser), cancel, and a generate box comparing the base model with the
// job's result side by side.
import { api, events, token, url } from "./api.js";
import { badge, fmtBytes, fmtNum, fmtSeconds, fmtTime, h, progressBar, section, sha256Hex } from "./ui.js";
import { QUICKSTART } from "./quickstart.js";
import { Curve } from "./curve.js";

const TERMINAL = ["succeeded", "failed", "canceled"];
const CURVES = {
  finetune: [["loss", "loss"], ["lr", "learning rate"], ["grad_norm", "gradient norm"], [
    "tokens_per_s",
    "tokens/s",
  ]],
  unlearn: [["loss", "loss"], ["forget_loss", "forget loss"]],
  eval: [["loss", "loss (running mean)"]],
  coreset: [],
};
const COLORS = ["#2563eb", "#db2777", "#059669", "#d97706"];

/** One uPlot chart of a column against the step, sized to its container. */
function chart(key, label, color) {
  const box = h("figure", { class: "chart", dataset: { curve: key, points: 0 } }, h("figcaption", {}, label));
  let plot;
  const make = (data) => {
    const width = Math.max(200, box.clientWidth - 8);
    plot = new uPlot(
      {
        width,
        height: 170,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false } },
        series: [{ label: "step" }, {
          label,
          stroke: color,
          width: 2,
          points: { show: data[0].length < 40 },
        }],
        axes: [{ label: "step", size: 36 }, { size: 64, values: (_, ticks) => ticks.map(fmtNum) }],
      },
      data,
      box,
    );
  };
  new ResizeObserver(() => plot?.setSize({ width: Math.max(200, box.clientWidth - 8), height: 170 })).observe(
    box,
  );
  return {
    el: box,
    set(xs, ys) {
      const pts = xs.map((x, i) => [x, ys[i]]).filter(([, y]) => y !== null && y !== undefined);
      const data = [pts.map((p) => p[0]), pts.map((p) => p[1])];
      box.dataset.points = String(pts.length);
      if (!plot && pts.length && box.isConnected) make(data);
      else plot?.setData(data);
    },
  };
}

/** Render job `id` into `root`; live until `signal` aborts. */
export async function renderJob(root, id, _params, signal) {
  let job = await api(`v1/jobs/${id}`, { signal });
  document.title = `${job.type} ${id} · posttrain`;
  const head = h("div", { class: "job-head" });
  const cancel = h("button", {
    type: "button",
    class: "danger",
    id: "cancel",
    onclick: async () => {
      cancel.disabled = true;
      try {
        job = await api(`v1/jobs/${id}`, { method: "DELETE" });
        drawHead();
      } catch (e) {
        cancelError.textContent = e.message;
        cancel.disabled = false;
      }
    },
  }, "Cancel job");
  const live = h("div", { class: "job-live" });
  const cancelError = h("p", { class: "error", role: "alert" });
  head.append(h("h1", {}, `${job.type} job `, h("code", {}, job.id)), live, cancel, cancelError);
  // only the live part is redrawn, so the Cancel button keeps its place and its focus
  const drawHead = () => {
    const p = job.progress;
    cancel.hidden = TERMINAL.includes(job.status);
    live.replaceChildren(
      h(
        "p",
        { class: "meta" },
        badge(job.status),
        " ",
        job.method ? h("span", {}, "method ", h("strong", {}, job.method), " · ") : "",
        "model ",
        h("code", {}, job.model),
        " · created ",
        fmtTime(job.created_at),
        job.finished_at ? ` · finished ${fmtTime(job.finished_at)}` : "",
      ),
      progressBar(p.step, p.steps, "job progress"),
      h(
        "p",
        { class: "figures", id: "figures" },
        p.loss !== undefined ? h("span", {}, "loss ", h("strong", {}, fmtNum(p.loss))) : "",
        p.forget_loss !== undefined
          ? h("span", {}, "forget loss ", h("strong", {}, fmtNum(p.forget_loss)))
          : "",
        p.tokens_per_s !== undefined ? h("span", {}, `${fmtNum(p.tokens_per_s)} tokens/s`) : "",
        p.eta_s !== undefined && !TERMINAL.includes(job.status)
          ? h("span", {}, `ETA ${fmtSeconds(p.eta_s)}`)
          : "",
      ),
      job.error ? h("p", { class: "error", role: "alert" }, `${job.error.code}: ${job.error.message}`) : "",
    );
  };
  drawHead();

  const curves = (CURVES[job.type] ?? []).map(([k, label], i) => ({ key: k, ...chart(k, label, COLORS[i]) }));
  const results = h("div", { id: "results" });
  const artifacts = h("div", { id: "artifacts" });
  const gen = generateBox(job);
  root.append(
    section("Job", head),
    curves.length ? section("Curves", h("div", { class: "charts" }, curves.map((c) => c.el))) : "",
    section("Results", results),
    section("Artifacts", artifacts),
    gen ? gen.el : "",
  );

  // curve data: the history so far, then every progress event
  const points = new Curve(["step", "loss", "lr", "grad_norm", "tokens_per_s", "forget_loss"]);
  const redraw = () => curves.forEach((c) => c.set(points.cols.step, points.cols[c.key]));
  const add = (p) => {
    if (p.loss !== undefined || p.forget_loss !== undefined) points.add(p);
  };
  const hist = await api(`v1/jobs/${id}/history`, { signal });
  for (const pt of hist.data) add(Object.fromEntries(hist.columns.map((c, i) => [c, pt[i]])));
  redraw();

  const drawEnd = async () => {
    drawResults(results, job);
    await drawArtifacts(artifacts, job, signal);
    gen?.enable(job);
  };
  await drawEnd();
  if (!TERMINAL.includes(job.status)) {
    // a fast job sends hundreds of progress events a second: each is taken in at once, but the page
    // is drawn at most once a frame (a redraw per event kept the tab busy and unresponsive)
    let frame = 0;
    const paint = () => {
      frame = 0;
      redraw();
      drawHead();
    };
    (async () => {
      for await (const ev of events(`v1/jobs/${id}/events`, signal)) {
        job = ev.data;
        add(job.progress);
        if (ev.event === "progress") {
          frame ||= requestAnimationFrame(paint);
          continue;
        }
        cancelAnimationFrame(frame);
        paint();
        await drawEnd();
      }
    })().catch((e) => {
      if (!signal.aborted) head.append(h("p", { class: "error" }, `event stream: ${e.message}`));
    });
  }
}

function drawResults(box, job) {
  const r = Object.entries(job.result ?? {});
  if (!r.length) {
    box.replaceChildren(
      h(
        "p",
        { class: "muted" },
        TERMINAL.includes(job.status) ? "No figures." : "Figures appear when the job succeeds.",
      ),
    );
    return;
  }
  const pairs = job.type === "unlearn"
    ? [["forget loss", "forget_loss_before", "forget_loss_after"], [
      "retain loss",
      "retain_loss_before",
      "retain_loss_after",
    ]]
    : job.type === "finetune"
    ? [["loss", "loss_start", "loss_end"]]
    : [];
  const used = new Set(pairs.flatMap(([, a, b]) => [a, b]));
  box.replaceChildren(
    pairs.length
      ? h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "metrics" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, "metric"),
              h("th", { scope: "col" }, "before"),
              h("th", { scope: "col" }, "after"),
            ),
          ),
          h(
            "tbody",
            {},
            pairs.filter(([, a]) => job.result[a] !== undefined).map(([name, a, b]) =>
              h(
                "tr",
                {},
                h("th", { scope: "row" }, name),
                h("td", { class: "num" }, fmtNum(job.result[a])),
                h("td", { class: "num" }, fmtNum(job.result[b])),
              )
            ),
          ),
        ),
      )
      : "",
    h(
      "dl",
      { class: "result" },
      r.filter(([k]) => !used.has(k)).map((
        [k, v],
      ) => [h("dt", {}, k.replaceAll("_", " ")), h("dd", {}, fmtNum(v))]),
    ),
  );
}

async function drawArtifacts(box, job, signal) {
  const list = job.status === "succeeded" ? (await api(`v1/jobs/${job.id}/artifacts`, { signal })).data : [];
  if (!list.length) {
    box.replaceChildren(
      h(
        "p",
        { class: "muted" },
        job.status === "succeeded" ? "None." : "Artifacts appear when the job succeeds.",
      ),
    );
    return;
  }
  const rows = list.map((a) => {
    const state = h("span", { class: "verify", "aria-live": "polite" });
    const btn = h("button", {
      type: "button",
      class: "small",
      dataset: { artifact: a.name },
      onclick: async () => {
        btn.disabled = true;
        state.textContent = "downloading…";
        try {
          const res = await api(`v1/jobs/${job.id}/artifacts/${encodeURIComponent(a.name)}`, { raw: true });
          const blob = await res.blob();
          const hex = await sha256Hex(await blob.arrayBuffer());
          state.textContent = hex === a.sha256 ? "✓ sha256 verified" : "✗ sha256 differs";
          state.className = hex === a.sha256 ? "verify ok" : "verify bad";
          const link = h("a", { href: URL.createObjectURL(blob), download: a.name });
          document.body.append(link);
          link.click();
          link.remove();
          setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
        } catch (e) {
          state.textContent = e.message;
        } finally {
          btn.disabled = false;
        }
      },
    }, "Download");
    return h(
      "tr",
      {},
      h(
        "td",
        {},
        h("a", {
          href: url(`v1/jobs/${job.id}/artifacts/${encodeURIComponent(a.name)}`),
          // with a token, reads need it too: the button's download sends it
          onclick: (e) => token() && (e.preventDefault(), btn.click()),
        }, a.name),
      ),
      h("td", { class: "num" }, fmtBytes(a.size)),
      h("td", {}, h("code", { class: "sha", title: a.sha256 }, a.sha256.slice(0, 16) + "…")),
      h("td", {}, btn, " ", state),
    );
  });
  const extra = job.type === "coreset" ? await selectionSummary(job, signal) : "";
  box.replaceChildren(
    extra,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "artifacts-table" },
        h("thead", {}, h("tr", {}, ["file", "size", "sha256", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows),
      ),
    ),
  );
}

async function selectionSummary(job, signal) {
  try {
    const sel = await api(`v1/jobs/${job.id}/artifacts/selection.json`, { signal });
    const s = [...(sel.scores ?? [])].filter(Number.isFinite).sort((a, b) => a - b);
    const q = (f) => (s.length ? fmtNum(s[Math.min(s.length - 1, Math.floor(f * s.length))]) : "–");
    return h(
      "div",
      { class: "selection" },
      h("h3", {}, "Selection"),
      h(
        "p",
        {},
        `${sel.indices.length} of ${job.result?.rows ?? "?"} rows selected. Scores: min ${q(0)}, median ${
          q(0.5)
        }, max ${q(1)}.`,
      ),
      h(
        "p",
        { class: "muted small" },
        "Indices (0-based, in selection order): ",
        h("code", {}, sel.indices.slice(0, 60).join(", ") + (sel.indices.length > 60 ? ", …" : "")),
      ),
    );
  } catch {
    return "";
  }
}

/** The generate box of a fine-tune or unlearn job: the same prompt on another model and on this job's result. */
function generateBox(job) {
  if (job.type !== "finetune" && job.type !== "unlearn") return undefined;
  const prompt = h("textarea", { id: "gen-prompt", rows: 3 }, QUICKSTART.prompt);
  const tokens = h("input", {
    id: "gen-tokens",
    type: "number",
    min: 1,
    max: 256,
    value: QUICKSTART.max_new_tokens,
  });
  const against = h("select", { id: "gen-against" }, h("option", { value: "" }, `base model (${job.model})`));
  const left = h("div", { class: "gen-out", id: "gen-base", "aria-live": "polite" });
  const right = h("div", { class: "gen-out", id: "gen-job", "aria-live": "polite" });
  const leftTitle = h("h3", {}, "base model");
  const run = h("button", { type: "submit", class: "primary", disabled: true }, "Generate");
  const form = h(
    "form",
    {
      id: "gen-form",
      onsubmit: async (ev) => {
        ev.preventDefault();
        run.disabled = true;
        leftTitle.textContent = against.value ? `job ${against.value}` : "base model";
        const body = { model: job.model, prompt: prompt.value, max_new_tokens: Number(tokens.value) || 24 };
        for (const [out, adapter] of [[left, against.value || undefined], [right, job.id]]) {
          out.replaceChildren(h("span", { class: "muted" }, "generating…"));
          try {
            const r = await api("v1/generate", { method: "POST", body: { ...body, adapter } });
            out.replaceChildren(h("span", { class: "prompt-echo" }, prompt.value), h("strong", {}, r.text));
          } catch (e) {
            out.replaceChildren(h("span", { class: "error" }, e.message));
          }
        }
        run.disabled = false;
      },
    },
    h("label", { for: "gen-prompt" }, "Prompt"),
    prompt,
    h(
      "div",
      { class: "grid" },
      h("div", { class: "field" }, h("label", { for: "gen-tokens" }, "max_new_tokens"), tokens),
      h("div", { class: "field" }, h("label", { for: "gen-against" }, "compare with"), against),
    ),
    h("div", { class: "actions" }, run),
    h(
      "div",
      { class: "side-by-side" },
      h("div", {}, leftTitle, left),
      h("div", {}, h("h3", {}, "this job"), right),
    ),
  );
  const el = section(
    "Generate",
    h("p", { class: "muted" }, "The same prompt on another model and on this job's result, greedy."),
    form,
  );
  return {
    el,
    async enable(j) {
      if (j.status !== "succeeded" || !run.disabled || against.options.length > 1) return;
      run.disabled = false;
      const done = (await api("v1/jobs?status=succeeded&limit=100")).data;
      for (
        const o of done.filter((x) =>
          x.id !== j.id && (x.type === "finetune" || x.type === "unlearn") && x.model === j.model
        )
      ) {
        against.append(h("option", { value: o.id }, `${o.type} ${o.method ?? ""} ${o.id}`));
      }
    },
  };
}
