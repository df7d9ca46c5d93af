/** The committed dashboard assets module is what `deno task build:dashboard` makes from its sources. */
import assert from "node:assert/strict";
import { staleAssets } from "../../src/build/dashboard_assets.ts";

Deno.test("routes/dashboard/assets.ts is up to date with routes/dashboard/, the quick-start rows and the npm packages", async () => {
  assert.deepEqual(await staleAssets(), [], "run deno task build:dashboard");
});
