// The new-job form, built from the API's own OpenAPI document (the zod schemas the server
// validates with): one field per option with its description, default and range; row fields as
// JSONL (pasted or uploaded) checked row by row; the job's memory plan (POST /v1/plan) kept up to
// date beside the form, with the budgets it fits; server errors shown beside the field or row.
import { api, ApiError, openapi } from "./api.js";
import { debounce, fmtBytes, h, section } from "./ui.js";
import { QUICKSTART } from "./quickstart.js";

const TYPES = { finetune: "FinetuneJob", unlearn: "UnlearnJob", eval: "EvalJob", coreset: "CoresetJob" };
const ROW_FIELDS = ["data", "forget", "retain", "val"];
/** Options shown up front; the rest are under "More options". */
const COMMON = new Set([
  "method",
  "adapter",
  "steps",
  "lr",
  "batch_size",
  "rank",
  "backend",
  "k",
  "kfade_steps",
  "retain_loss",
  "epochs",
  "warmup",
  "schedule",
]);

/** The JSON-Schema facts a field shows: kind, choices, default, range. */
function fieldInfo(prop) {
  const info = { description: prop.description ?? "", default: prop.default };
  const alts = prop.anyOf ?? prop.oneOf;
  if (alts) {
    const enums = alts.flatMap((a) => a.enum ?? []);
    if (enums.length === alts.length) return { ...info, kind: "enum", values: enums };
    return { ...info, kind: alts.some((a) => a.type === "array") ? "list" : "text" };
  }
  if (prop.enum) return { ...info, kind: prop.enum.length === 1 ? "const" : "enum", values: prop.enum };
  if (prop.type === "boolean") return { ...info, kind: "enum", values: [true, false] };
  if (prop.type === "integer" || prop.type === "number") {
    const range = [];
    if (prop.minimum !== undefined) range.push(`≥ ${prop.minimum}`);
    if (prop.exclusiveMinimum !== undefined) range.push(`> ${prop.exclusiveMinimum}`);
    if (prop.maximum !== undefined) range.push(`≤ ${prop.maximum}`);
    if (prop.exclusiveMaximum !== undefined) range.push(`< ${prop.exclusiveMaximum}`);
    return {
      ...info,
      kind: prop.type,
      range: range.join(", "),
      min: prop.minimum ?? prop.exclusiveMinimum,
      max: prop.maximum ?? prop.exclusiveMaximum,
    };
  }
  if (prop.type === "array") return { ...info, kind: "list", items: prop.items?.type };
  return { ...info, kind: "text" };
}

/** One option's label, input, help line and error slot. */
function optionField(name, prop, required) {
  const info = fieldInfo(prop);
  const id = `f-${name}`;
  let input;
  if (info.kind === "enum") {
    input = h(
      "select",
      { id, name },
      h(
        "option",
        { value: "" },
        info.default !== undefined ? `default (${info.default})` : required ? "— choose —" : "—",
      ),
      info.values.map((v) => h("option", { value: JSON.stringify(v) }, String(v))),
    );
  } else if (info.kind === "integer" || info.kind === "number") {
    input = h("input", {
      id,
      name,
      type: "number",
      inputmode: info.kind === "integer" ? "numeric" : "decimal",
      step: info.kind === "integer" ? "1" : "any",
      min: info.min,
      max: info.max,
      placeholder: info.default !== undefined ? String(info.default) : "",
    });
  } else {
    input = h("input", {
      id,
      name,
      type: "text",
      autocomplete: "off",
      placeholder: info.default !== undefined ? String(info.default) : info.kind === "list" ? "a, b, c" : "",
    });
  }
  const error = h("p", { class: "field-error", id: `${id}-error`, role: "alert" });
  const facts = [
    info.default !== undefined
      ? `default ${JSON.stringify(info.default)}`
      : required
      ? "required"
      : "optional",
    info.range ? `range ${info.range}` : "",
  ].filter(Boolean).join(" · ");
  input.setAttribute("aria-describedby", `${id}-help ${id}-error`);
  const el = h(
    "div",
    { class: "field", dataset: { field: name } },
    h("label", { for: id }, name),
    input,
    h(
      "p",
      { class: "help", id: `${id}-help` },
      info.description,
      facts ? h("span", { class: "facts" }, ` (${facts})`) : "",
    ),
    error,
  );
  return {
    name,
    el,
    input,
    required,
    value() {
      const raw = input.value.trim();
      if (raw === "") return undefined;
      if (info.kind === "enum") return JSON.parse(raw);
      if (info.kind === "integer" || info.kind === "number") return Number(raw);
      if (info.kind === "list") {
        const items = raw.split(",").map((s) => s.trim()).filter(Boolean);
        return info.items === "integer" ? items.map(Number) : items;
      }
      return raw;
    },
    set(v) {
      input.value = v === undefined
        ? ""
        : info.kind === "enum"
        ? JSON.stringify(v)
        : Array.isArray(v)
        ? v.join(", ")
        : String(v);
    },
    setError(msg) {
      error.textContent = msg ?? "";
      el.classList.toggle("invalid", !!msg);
      if (msg) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    },
  };
}

/** What is wrong with a parsed row, judged as the server's row contract does (null: fine). */
export function rowProblem(v) {
  const str = (k) => typeof v[k] === "string";
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "not a JSON object";
  if ("input_ids" in v) {
    return Array.isArray(v.input_ids) && v.input_ids.length &&
        v.input_ids.every((x) => Number.isInteger(x) && x >= 0)
      ? null
      : '"input_ids": must be a non-empty array of non-negative integers';
  }
  if ("messages" in v) {
    return Array.isArray(v.messages) && v.messages.length ? null : '"messages": must be a non-empty array';
  }
  if ("conversations" in v) {
    return Array.isArray(v.conversations) && v.conversations.length
      ? null
      : '"conversations": must be a non-empty array';
  }
  for (const [a, b] of [["prompt", "completion"], ["question", "answer"], ["instruction", "output"]]) {
    if (a in v || b in v) {
      if (!str(a)) return `"${a}": a string is needed`;
      if (!str(b)) return `"${b}": a string is needed`;
      return null;
    }
  }
  if ("text" in v) return str("text") && v.text.length ? null : '"text": must be a non-empty string';
  return 'no row fields: expected {"text"}, {"prompt","completion"}, {"question","answer"}, {"input_ids"} or {"messages"}';
}

/** A JSONL rows editor: paste or upload, each row checked, errors shown beside the row. */
function rowsField(name, prop, required) {
  const id = `f-${name}`;
  const area = h("textarea", {
    id,
    name,
    rows: 7,
    spellcheck: false,
    placeholder: '{"question": "Who wrote Hamlet?", "answer": " Shakespeare"}\n{"text": "…"}',
    "aria-describedby": `${id}-help ${id}-error`,
  });
  const file = h("input", {
    type: "file",
    accept: ".jsonl,.json,.txt,application/jsonl",
    id: `${id}-file`,
    onchange: async () => {
      const f = file.files?.[0];
      if (f) {
        area.value = await f.text();
        area.dispatchEvent(new Event("input", { bubbles: true }));
      }
    },
  });
  const list = h("ol", { class: "rows", id: `rows-${name}`, "aria-label": `${name} rows` });
  const error = h("p", { class: "field-error", id: `${id}-error`, role: "alert" });
  const server = new Map();
  let parsed = { rows: [], problems: [] };
  const el = h(
    "div",
    { class: "field rows-field", dataset: { field: name } },
    h("label", { for: id }, name, required ? "" : h("span", { class: "muted" }, " (optional)")),
    h("p", { class: "help", id: `${id}-help` }, prop.description ?? "", " One JSON object per line."),
    area,
    h(
      "div",
      { class: "file-row" },
      h("label", { for: `${id}-file`, class: "muted" }, "or upload a .jsonl file: "),
      file,
    ),
    error,
    list,
  );
  const parse = () => {
    const rows = [], problems = [], lines = [];
    area.value.split("\n").forEach((line, n) => {
      if (!line.trim()) return;
      let problem = null, value;
      try {
        value = JSON.parse(line);
        problem = rowProblem(value);
      } catch (e) {
        problem = `not valid JSON (${e.message.replace(/^JSON\.parse: /, "")})`;
      }
      lines.push({ n: n + 1, line, problem });
      if (problem) problems.push({ row: rows.length + problems.length, message: problem });
      rows.push(value);
    });
    parsed = { rows, problems, lines };
    return parsed;
  };
  const draw = () => {
    const { lines } = parsed;
    const shown = lines.map((l, i) => ({ ...l, i, problem: l.problem ?? server.get(i) }))
      .filter((l, i) => i < 100 || l.problem);
    list.replaceChildren(
      ...shown.map((l) =>
        h(
          "li",
          { class: l.problem ? "row bad" : "row ok", dataset: { row: l.i } },
          h("span", { class: "row-no" }, `row ${l.i}`),
          h("code", { class: "row-text" }, l.line.length > 90 ? l.line.slice(0, 90) + "…" : l.line),
          l.problem
            ? h("span", { class: "row-error", role: "alert" }, l.problem)
            : h("span", { class: "row-ok", "aria-label": "valid" }, "✓"),
        )
      ),
      lines.length > shown.length
        ? h("li", { class: "muted" }, `… ${lines.length - shown.length} more valid rows`)
        : "",
    );
    const bad = shown.filter((l) => l.problem).length;
    el.classList.toggle("invalid", bad > 0);
    error.textContent = bad
      ? `${bad} row${bad > 1 ? "s have" : " has"} a problem: see beside ${bad > 1 ? "them" : "it"}`
      : "";
  };
  area.addEventListener("input", () => {
    server.clear();
    parse();
    draw();
  });
  return {
    name,
    el,
    input: area,
    required,
    rows: true,
    parse,
    value() {
      return parsed.rows.length ? parsed.rows : undefined;
    },
    problems() {
      return parsed.problems;
    },
    set(rows) {
      area.value = rows.map((r) => JSON.stringify(r)).join("\n");
      parse();
      draw();
    },
    setError(msg, row) {
      if (row !== undefined) server.set(row, msg);
      else if (msg === undefined) server.clear();
      else error.textContent = msg;
      draw();
    },
  };
}

/** The plan panel: total, items, exact/estimate, the budgets it fits. */
function planView(plan) {
  const items = Object.entries(plan.items).filter(([, v]) => v > 0);
  const max = plan.total_bytes || 1;
  return h(
    "div",
    { class: "plan", dataset: { total: plan.total_bytes } },
    h(
      "p",
      { class: "plan-total" },
      h("strong", {}, fmtBytes(plan.total_bytes)),
      " ",
      h("span", { class: `badge ${plan.exact ? "exact" : "estimate"}` }, plan.exact ? "exact" : "estimate"),
    ),
    h(
      "ul",
      { class: "fits", "aria-label": "budgets" },
      Object.entries(plan.fits).map(([b, ok]) =>
        h(
          "li",
          { class: ok ? "fit yes" : "fit no" },
          `${ok ? "✓ fits" : "✗ exceeds"} ${b.replace("MB", " MB")}`,
        )
      ),
    ),
    h(
      "dl",
      { class: "items" },
      items.map(([k, v]) => [
        h("dt", {}, k.replace(/_bytes$/, "").replace("_", " ")),
        h(
          "dd",
          {},
          h("span", { class: "bar", style: `width:${Math.max(2, (100 * v) / max)}%` }),
          fmtBytes(v),
        ),
      ]),
    ),
    h("p", { class: "muted small" }, plan.basis),
  );
}

/** Render the form of a job type into `root`. */
export async function renderForm(root, type, params, signal) {
  if (!TYPES[type]) type = "finetune";
  document.title = `New ${type} job · posttrain`;
  const doc = await openapi();
  const schema = doc.components.schemas[TYPES[type]];
  const models = (await api("v1/models", { signal })).data;
  const required = new Set(schema.required ?? []);
  const fields = [];
  const planBox = h(
    "div",
    { id: "plan", "aria-live": "polite" },
    h("p", { class: "muted" }, "Add rows to see the plan."),
  );
  const modelSel = h(
    "select",
    { id: "f-model", name: "model" },
    models.map((m) => h("option", { value: m.id }, m.id)),
  );
  const modelField = {
    name: "model",
    input: modelSel,
    el: h(
      "div",
      { class: "field", dataset: { field: "model" } },
      h("label", { for: "f-model" }, "model"),
      modelSel,
      h("p", { class: "help" }, schema.properties.model.description),
      h("p", { class: "field-error", role: "alert" }),
    ),
    value: () => modelSel.value || undefined,
    set: (v) => (modelSel.value = v),
    setError(msg) {
      this.el.querySelector(".field-error").textContent = msg ?? "";
    },
  };
  fields.push(modelField);
  for (const [name, prop] of Object.entries(schema.properties)) {
    if (name === "type" || name === "model") continue;
    fields.push(
      ROW_FIELDS.includes(name)
        ? rowsField(name, prop, required.has(name))
        : optionField(name, prop, required.has(name)),
    );
  }
  const byName = new Map(fields.map((f) => [f.name, f]));
  const status = h("p", { class: "form-status", role: "status" });
  const submit = h("button", { type: "submit", class: "primary" }, `Submit ${type} job`);
  const form = h(
    "form",
    { id: "job-form", novalidate: true },
    fields.filter((f) => f.name === "model" || f.rows).map((f) => f.el),
    h(
      "fieldset",
      {},
      h("legend", {}, "Options"),
      h("div", { class: "grid" }, fields.filter((f) => COMMON.has(f.name)).map((f) => f.el)),
    ),
    h(
      "details",
      {},
      h("summary", {}, "More options"),
      h(
        "div",
        { class: "grid" },
        fields.filter((f) => !f.rows && f.name !== "model" && !COMMON.has(f.name)).map((f) => f.el),
      ),
    ),
    h("div", { class: "actions" }, submit, status),
  );
  root.append(
    h(
      "nav",
      { class: "tabs", "aria-label": "Job type" },
      Object.keys(TYPES).map((t) =>
        h("a", { href: `#/new/${t}`, "aria-current": t === type ? "page" : undefined }, t)
      ),
    ),
    h(
      "div",
      { class: "form-layout" },
      section(`New ${type} job`, h("p", { class: "muted" }, schema.description ?? ""), form),
      section(
        "Memory plan",
        h("p", { class: "muted small" }, "What this job needs before it runs (POST /v1/plan)."),
        planBox,
      ),
    ),
  );

  const collect = () => {
    const body = { type };
    const problems = [];
    for (const f of fields) {
      f.setError?.(undefined);
      if (f.rows) {
        f.parse();
        for (const p of f.problems()) problems.push({ field: f, ...p });
        f.setError(undefined);
      }
      const v = f.value();
      if (v !== undefined) body[f.name] = v;
    }
    return { body, problems };
  };
  const showError = (e) => {
    const path = (e.path ?? "").split(".");
    const f = byName.get(path[0]);
    if (f?.rows && /^\d+$/.test(path[1] ?? "")) {
      f.setError(e.message.replace(/^[\w.]+: /, ""), Number(path[1]));
    } else if (f) f.setError(e.message);
    return f;
  };
  let planSeq = 0;
  const replan = debounce(async () => {
    const seq = ++planSeq;
    const { body, problems } = collect();
    const missing = fields.filter((f) => f.rows && f.required && !body[f.name]);
    if (missing.length) {
      return planBox.replaceChildren(
        h("p", { class: "muted" }, `Add ${missing.map((f) => f.name).join(" and ")} rows to see the plan.`),
      );
    }
    if (problems.length) {
      return planBox.replaceChildren(
        h("p", { class: "muted" }, "Fix the rows marked beside them to see the plan."),
      );
    }
    planBox.setAttribute("aria-busy", "true");
    try {
      const plan = await api("v1/plan", { method: "POST", body, signal });
      if (seq === planSeq) planBox.replaceChildren(planView(plan));
    } catch (e) {
      if (seq !== planSeq || signal.aborted) return;
      if (e instanceof ApiError) showError(e);
      planBox.replaceChildren(h("p", { class: e.code === "not_plannable" ? "muted" : "error" }, e.message));
    } finally {
      planBox.removeAttribute("aria-busy");
    }
  }, 400);
  form.addEventListener("input", replan);
  form.addEventListener("change", replan);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const { body, problems } = collect();
    if (problems.length) {
      status.textContent = "Some rows have problems (marked beside them).";
      problems[0].field.input.focus();
      return;
    }
    submit.disabled = true;
    status.textContent = "Submitting…";
    try {
      const job = await api("v1/jobs", { method: "POST", body });
      location.hash = `#/jobs/${job.id}`;
    } catch (e) {
      const f = e instanceof ApiError ? showError(e) : undefined;
      status.textContent = e.message;
      if (e.detail?.plan) {
        planBox.replaceChildren(h("p", { class: "error" }, e.message), planView(e.detail.plan));
      }
      (f?.input ?? submit).focus();
    } finally {
      submit.disabled = false;
    }
  });

  const preset = params.get("preset");
  if (preset === "teach" && type === "finetune") {
    byName.get("model").set(QUICKSTART.model);
    byName.get("data").set(QUICKSTART.teach);
    for (const [k, v] of Object.entries(QUICKSTART.options)) byName.get(k)?.set(v);
  } else if (preset === "forget" && type === "unlearn") {
    byName.get("model").set(QUICKSTART.model);
    byName.get("forget").set(QUICKSTART.forget);
    byName.get("retain").set(QUICKSTART.retain);
    for (const [k, v] of Object.entries(QUICKSTART.unlearn)) byName.get(k)?.set(v);
    const done = (await api("v1/jobs?status=succeeded&limit=100", { signal })).data.find((j) =>
      j.type === "finetune"
    );
    if (done) byName.get("adapter").set(done.id);
    else status.textContent = "Run step 2 (the fine-tune) first: its job id goes into adapter.";
  }
  if (params.get("model")) byName.get("model").set(params.get("model"));
  if (preset) replan();
}
