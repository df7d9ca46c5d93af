/**
 * Rebuild wasm/kernels.wasm from wasm/kernels.rs (+ its `mod` files) with Debian's rustc.
 *
 *   deno task build:wasm            rebuild and overwrite wasm/kernels.wasm
 *   deno task build:wasm --check    rebuild into a temp dir; exit 1 if the bytes differ
 *
 * Toolchain the committed file was built with (`/usr/bin/rustc -vV`; apt `rustc` 1.63.0 +
 * `libstd-rust-dev-wasm32` on Debian bookworm):
 *   rustc 1.63.0
 *   binary: rustc
 *   commit-hash: unknown
 *   commit-date: unknown
 *   host: x86_64-unknown-linux-gnu
 *   release: 1.63.0
 *   LLVM version: 14.0.6
 * Reproducibility: rustc runs inside wasm/ on relative paths, with one codegen unit and no debug
 * info, so no absolute path or temp name reaches the output. Override the compiler with $RUSTC.
 */
const DIR = new URL(".", import.meta.url);
const RUSTC = Deno.env.get("RUSTC") ?? "/usr/bin/rustc";
const EXPECTED_RELEASE = "1.63.0";

const FLAGS = [
  "--edition=2021",
  "--crate-type=cdylib",
  "--target=wasm32-unknown-unknown",
  "-Copt-level=3",
  "-Ctarget-feature=+simd128",
  "-Cpanic=abort",
  "-Ccodegen-units=1",
  "-Cdebuginfo=0",
  "-Cstrip=debuginfo",
];

async function run(args: string[]): Promise<string> {
  const out = await new Deno.Command(RUSTC, { args, cwd: DIR, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${RUSTC} ${args.join(" ")} failed:\n${text}`);
  return text;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(h, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Compile kernels.rs to `outPath`; returns the bytes.
 *
 * @example
 * ```ts
 * const bytes = await build("/tmp/kernels.wasm");
 * ```
 */
export async function build(outPath: string): Promise<Uint8Array<ArrayBuffer>> {
  const release = (await run(["-vV"])).match(/release: (\S+)/)?.[1];
  if (release !== EXPECTED_RELEASE) {
    console.error(
      `warning: ${RUSTC} is ${release}, the committed kernels.wasm was built with ${EXPECTED_RELEASE}`,
    );
  }
  await run([...FLAGS, "-o", outPath, "kernels.rs"]);
  return await Deno.readFile(outPath);
}

if (import.meta.main) {
  const committed = new URL("kernels.wasm", DIR);
  if (Deno.args.includes("--check")) {
    const tmp = await Deno.makeTempDir({ prefix: "posttrain-wasm-" });
    try {
      const fresh = await build(`${tmp}/kernels.wasm`);
      const old = await Deno.readFile(committed).catch(() => new Uint8Array(0));
      const [a, b] = [await sha256(fresh), await sha256(old)];
      if (a !== b) {
        console.error(
          `wasm/kernels.wasm is stale: rebuilt ${fresh.length} B sha256 ${a}, committed ${old.length} B sha256 ${b}`,
        );
        console.error("run `deno task build:wasm` and commit the result");
        Deno.exit(1);
      }
      console.log(`wasm/kernels.wasm is up to date (${fresh.length} B, sha256 ${a})`);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  } else {
    const tmpOut = new URL("kernels.wasm.tmp", DIR).pathname;
    const bytes = await build(tmpOut);
    await Deno.chmod(tmpOut, 0o644);
    await Deno.rename(tmpOut, committed);
    console.log(`wrote wasm/kernels.wasm (${bytes.length} B, sha256 ${await sha256(bytes)})`);
  }
}
