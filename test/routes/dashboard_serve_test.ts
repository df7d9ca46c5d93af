/** The dashboard and /docs are served from the module: gzip as built or decompressed, ETags, no CDN. */
import assert from "node:assert/strict";
import { testApp } from "./_app.ts";
import { ASSETS } from "../../routes/dashboard/assets.ts";

Deno.test("dashboard: / and its files come from the module, gzip to clients that accept it, plain to others, 304 on a matching ETag", async () => {
  const t = await testApp();
  try {
    const page = await t.app.request("/");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type")!, /text\/html/);
    const html = await page.text();
    assert.match(html, /dashboard\/app\.js/);
    const gz = await t.app.request("/dashboard/app.js", { headers: { "accept-encoding": "gzip, br" } });
    assert.equal(gz.headers.get("content-encoding"), "gzip");
    const unzipped = await new Response(gz.body!.pipeThrough(new DecompressionStream("gzip"))).text();
    const plain = await (await t.app.request("/dashboard/app.js")).text();
    assert.equal(unzipped, plain);
    assert.match(plain, /renderHome/);
    const etag = gz.headers.get("etag")!;
    const again = await t.app.request("/dashboard/app.js", { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304);
    assert.equal((await t.app.request("/dashboard/nope.js")).status, 404);
    assert.equal((await t.app.request("/dashboard/__proto__")).status, 404);
    // uPlot is served, not fetched from elsewhere; nothing names a CDN or another host
    assert.match(await (await t.app.request("/dashboard/uplot.js")).text(), /uPlot/);
    for (
      const name of Object.keys(ASSETS).filter((n) => !n.startsWith("swagger") && !n.startsWith("uplot"))
    ) {
      const text = await (await t.app.request(`/dashboard/${name}`)).text();
      assert.doesNotMatch(text, /https?:\/\//, name);
    }
  } finally {
    await t.close();
  }
});

Deno.test("docs: /docs is Swagger UI over /openapi.json from the module's own copy of swagger-ui-dist", async () => {
  const t = await testApp();
  try {
    const ui = await t.app.request("/docs");
    assert.equal(ui.status, 200);
    const html = await ui.text();
    assert.match(html, /src="dashboard\/swagger-ui.js"/);
    assert.match(html, /src="dashboard\/docs.js"/);
    // no inline script: the page's CSP allows scripts from this origin only
    assert.doesNotMatch(html, /<script>/);
    assert.match(ui.headers.get("content-security-policy")!, /script-src 'self'/);
    assert.match(
      await (await t.app.request("/dashboard/docs.js")).text(),
      /SwaggerUIBundle\(\{ url: "openapi.json"/,
    );
    assert.doesNotMatch(html, /cdn|https?:\/\//);
    const js = await t.app.request("/dashboard/swagger-ui.js");
    assert.equal(js.status, 200);
    assert.match(await js.text(), /SwaggerUIBundle/);
  } finally {
    await t.close();
  }
});
