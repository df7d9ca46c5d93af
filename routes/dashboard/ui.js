// Small DOM and formatting helpers shared by the dashboard's pages.

/** Element builder: h("a", { href: "#/" }, "text", child…); `on*` attributes add listeners. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (typeof v !== "string" && typeof v !== "number" && k in el) el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Bytes as B / KB / MB / GB (powers of 1024, as the plan's MiB budgets). */
export function fmtBytes(n) {
  if (!Number.isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024, i++);
  return `${n >= 100 || i === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[i]}`;
}

/** A number with few significant digits (losses, rates). */
export function fmtNum(x) {
  if (x === undefined || x === null || !Number.isFinite(x)) return "–";
  if (Number.isInteger(x)) return x.toLocaleString("en");
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? x.toExponential(2) : x.toPrecision(4).replace(/\.?0+$/, "");
}

/** 5770752 → "5.77 M". */
export function fmtCount(n) {
  if (!Number.isFinite(n)) return "–";
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

/** Seconds as "1 min 05 s". */
export function fmtSeconds(s) {
  if (!Number.isFinite(s)) return "–";
  s = Math.round(s);
  return s >= 60 ? `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s` : `${s} s`;
}

/** "2026-12-01T10:00:00Z" → local short time. */
export function fmtTime(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" }) : "–";
}

/** A status badge. */
export function badge(status) {
  return h("span", { class: `badge ${status}` }, status);
}

/** A progress bar with a label, `step` of `steps`. */
export function progressBar(step, steps, label) {
  const pct = steps ? Math.min(100, (100 * step) / steps) : 0;
  return h(
    "div",
    { class: "progress" },
    h("progress", { max: steps || 1, value: step, "aria-label": label ?? `${step} of ${steps}` }),
    h("span", {}, `${step}/${steps}`, h("span", { class: "muted" }, ` ${pct.toFixed(0)} %`)),
  );
}

/** Hex SHA-256 of bytes (the browser's WebCrypto). */
export async function sha256Hex(buf) {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A section with a heading. */
export function section(title, ...children) {
  const id = title.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

/** Run `fn` after `ms` of quiet. */
export function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}
