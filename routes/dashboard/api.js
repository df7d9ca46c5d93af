// The API from the browser: relative to where the dashboard is served, with the bearer token the
// server asks for (asked once, kept for the tab in sessionStorage), errors as thrown ApiErrors.

const ROOT = new URL("../", import.meta.url);
const KEY = "posttrain-token";

/** An error answer: status, code, message and the field path the server named. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = error?.code ?? `http_${status}`;
    this.path = error?.path;
    this.detail = error;
  }
}

let asking;

/** Ask for the token in the dialog (one dialog at a time); resolves with it, or undefined. */
export function askToken() {
  asking ??= new Promise((resolve) => {
    const dlg = document.getElementById("token-dialog");
    const input = document.getElementById("token-input");
    input.value = "";
    document.getElementById("token-cancel").onclick = () => dlg.close("cancel");
    dlg.addEventListener("close", () => {
      const v = dlg.returnValue === "ok" ? input.value.trim() : "";
      if (v) sessionStorage.setItem(KEY, v);
      asking = undefined;
      document.getElementById("token-button").hidden = !v;
      resolve(v || undefined);
    }, { once: true });
    dlg.showModal();
    input.focus();
  });
  return asking;
}

/** The token kept for this tab. */
export function token() {
  return sessionStorage.getItem(KEY) ?? undefined;
}

/** An absolute URL of an API path. */
export function url(path) {
  return new URL(path.replace(/^\//, ""), ROOT).href;
}

/**
 * Call the API: JSON in and out; `raw` returns the Response. A 401 asks for the token once and
 * retries.
 */
export async function api(path, { method = "GET", body, raw = false, signal } = {}) {
  for (let attempt = 0;; attempt++) {
    const headers = {};
    const t = token();
    if (t) headers.authorization = `Bearer ${t}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(url(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    if (res.status === 401 && attempt === 0 && (await askToken())) continue;
    if (raw && res.ok) return res;
    const type = res.headers.get("content-type") ?? "";
    const data = type.includes("json") ? await res.json() : await res.text();
    if (!res.ok) throw new ApiError(res.status, data?.error);
    return data;
  }
}

/** Server-sent events of a path (fetch-based, so the token header goes along), until the stream ends. */
export async function* events(path, signal) {
  const res = await api(path, { raw: true, signal });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let event = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        if (data) yield { event, data: JSON.parse(data) };
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

let doc;
/** The OpenAPI document (fetched once). */
export function openapi() {
  doc ??= api("openapi.json").catch((e) => {
    doc = undefined;
    throw e;
  });
  return doc;
}
