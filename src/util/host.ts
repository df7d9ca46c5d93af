/**
 * @module What the library asks of the runtime it runs in, besides files (those go through
 * `io/storage.ts`): environment variables, the process's peak resident memory and the working
 * directory. The library reads them only through {@link host}, so it runs unchanged in Deno, a
 * Cloudflare Worker or a browser tab: on Deno the host is `host_deno.ts` (chosen when the `Deno`
 * global exists), elsewhere a bare one (no environment, memory unknown, `/` as working directory)
 * until the entry point installs its own with {@link setHost} (e.g. a Worker's `env` bindings).
 */
import { denoHost } from "./host_deno.ts";

/** The runtime facilities the library uses. */
export interface Host {
  /** An environment variable (undefined when unset or not readable). */
  env(name: string): string | undefined;
  /** Peak resident memory of the process in MB, measured; NaN where the runtime cannot tell. */
  peakRssMb(): number;
  /** The working directory relative paths resolve against. */
  cwd(): string;
  /** A file shipped with the module (`new URL("./kernels.wasm", import.meta.url)`). */
  readModuleFile(url: URL): Promise<Uint8Array<ArrayBuffer>>;
}

/** `url` by `fetch` (the browser's and Workers' way to a module's files). */
async function fetchBytes(url: URL): Promise<Uint8Array<ArrayBuffer>> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** The host of a runtime without process facilities (a Worker, a browser tab). */
export const bareHost: Host = {
  env: () => undefined,
  peakRssMb: () => NaN,
  cwd: () => "/",
  readModuleFile: fetchBytes,
};

let current: Host = "Deno" in globalThis ? denoHost : bareHost;

/**
 * The host in use.
 *
 * @example
 * ```ts
 * host().env("POSTTRAIN_WASM_THREADS"); // "1" or undefined
 * ```
 */
export function host(): Host {
  return current;
}

/**
 * Use another host from now on (a Worker's bindings as environment, a tab's memory figure); returns
 * the one replaced.
 *
 * @example
 * ```ts
 * const previous = setHost({ ...host(), env: (k) => ({ POSTTRAIN_LEAN_PROFILE: "0" } as Record<string, string>)[k] });
 * setHost(previous);
 * ```
 */
export function setHost(h: Host): Host {
  const previous = current;
  current = h;
  return previous;
}
