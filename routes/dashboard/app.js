// The dashboard: a hash router over three pages — the overview (quick start, models, live jobs),
// the new-job form (form.js) and a job's page (job.js).
import { api, token } from "./api.js";
import { badge, fmtCount, fmtNum, fmtTime, h, progressBar, section } from "./ui.js";
import { renderForm } from "./form.js";
import { renderJob } from "./job.js";
import { QUICKSTART } from "./quickstart.js";

const main = document.getElementById("main");
let cleanup = () => {};

async function render() {
  cleanup();
  const ac = new AbortController();
  cleanup = () => ac.abort();
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  const params = new URLSearchParams(query ?? "");
  main.replaceChildren();
  for (const a of document.querySelectorAll("header nav a")) {
    const here = a.getAttribute("href") === `#/${parts[0] ?? ""}` ||
      (parts[0] === "new" && a.getAttribute("href").startsWith("#/new"));
    if (here) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  try {
    if (parts[0] === "new") await renderForm(main, parts[1] ?? "finetune", params, ac.signal);
    else if (parts[0] === "jobs" && parts[1]) await renderJob(main, parts[1], params, ac.signal);
    else await renderHome(main, ac.signal);
  } catch (e) {
    if (ac.signal.aborted) return;
    main.append(h("p", { class: "error", role: "alert" }, `Could not load this page: ${e.message}`));
  }
}

async function renderHome(root, signal) {
  document.title = "posttrain";
  const jobsBody = h("tbody");
  const jobsTable = h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { id: "jobs-table" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Job", "Type", "Method", "Status", "Progress", "Loss", "Created"].map((c) =>
            h("th", { scope: "col" }, c)
          ),
        ),
      ),
      jobsBody,
    ),
  );
  const modelsBody = h("tbody");
  root.append(
    quickStart(),
    section(
      "Jobs",
      h(
        "p",
        { class: "muted" },
        "Live: refreshed every 2 s. ",
        h("a", { href: "#/new/finetune" }, "Start a new job"),
        ".",
      ),
      jobsTable,
    ),
    section(
      "Models",
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "models-table" },
          h(
            "thead",
            {},
            h("tr", {}, ["Model", "Family", "Parameters", "Dtype"].map((c) => h("th", { scope: "col" }, c))),
          ),
          modelsBody,
        ),
      ),
    ),
  );
  api("v1/models", { signal }).then(({ data }) => {
    modelsBody.replaceChildren(
      ...data.map((m) =>
        h(
          "tr",
          {},
          h("td", {}, h("code", {}, m.id)),
          h("td", {}, m.family ?? "–"),
          h("td", { class: "num", title: String(m.parameters ?? "") }, fmtCount(m.parameters)),
          h("td", {}, m.dtype ?? "–"),
        )
      ),
    );
  }).catch(() => {});
  const refresh = async () => {
    const { data } = await api("v1/jobs?limit=50", { signal });
    if (!data.length) {
      jobsBody.replaceChildren(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No jobs yet.")));
      return;
    }
    jobsBody.replaceChildren(
      ...data.map((j) =>
        h(
          "tr",
          { dataset: { id: j.id, status: j.status } },
          h("td", {}, h("a", { href: `#/jobs/${j.id}` }, h("code", {}, j.id))),
          h("td", {}, j.type),
          h("td", {}, j.method ?? "–"),
          h("td", {}, badge(j.status)),
          h("td", {}, progressBar(j.progress.step, j.progress.steps, `progress of ${j.id}`)),
          h("td", { class: "num" }, fmtNum(j.progress.loss ?? j.progress.forget_loss)),
          h("td", {}, fmtTime(j.created_at)),
        )
      ),
    );
  };
  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), 2000);
  signal.addEventListener("abort", () => clearInterval(timer));
}

function quickStart() {
  const q = QUICKSTART;
  const out = h("div", { class: "answers", "aria-live": "polite" });
  const ask = h("button", {
    type: "button",
    class: "primary",
    onclick: async () => {
      ask.disabled = true;
      out.replaceChildren(h("p", { class: "muted" }, "Generating…"));
      try {
        const r = await api("v1/generate", {
          method: "POST",
          body: {
            model: q.model,
            prompt: q.prompt,
            max_new_tokens: q.max_new_tokens,
            backend: q.options.backend,
          },
        });
        out.replaceChildren(h("p", {}, h("strong", {}, "Base model: "), h("q", {}, r.text.trim())));
      } catch (e) {
        out.replaceChildren(h("p", { class: "error" }, e.message));
      } finally {
        ask.disabled = false;
      }
    },
  }, "1 · Ask the base model");
  return section(
    "Quick start: teach the model a new fact",
    h(
      "p",
      {},
      "The built-in model has never heard of ",
      h("strong", {}, q.person),
      ". Ask it, fine-tune it on the ",
      String(q.teach.length),
      " rows about two fictitious people from ",
      h("code", {}, "data/new_facts.train.jsonl"),
      ", ask again on the job's page, then unlearn one of them.",
    ),
    h("p", {}, h("code", { class: "prompt" }, q.prompt.replace("\n", " ⏎ "))),
    h(
      "div",
      { class: "actions" },
      ask,
      h("a", { class: "button", href: "#/new/finetune?preset=teach" }, "2 · Teach it (fine-tune form)"),
      h("a", { class: "button", href: "#/new/unlearn?preset=forget" }, "3 · Unlearn one person"),
    ),
    out,
  );
}

if (token()) document.getElementById("token-button").hidden = false;
document.getElementById("token-button").addEventListener("click", async () => {
  const { askToken } = await import("./api.js");
  await askToken();
});
addEventListener("hashchange", () => {
  render();
  main.focus({ preventScroll: true });
});
render();
