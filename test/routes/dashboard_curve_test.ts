/** The dashboard's live curve (routes/dashboard/curve.js): bounded however long a job streams. */
import assert from "node:assert/strict";
import { Curve, MAX_POINTS } from "../../routes/dashboard/curve.js";

const KEYS = ["step", "loss"];

Deno.test("dashboard curve: a million streamed steps keep at most MAX_POINTS points, first and last kept, evenly spaced", () => {
  const c = new Curve(KEYS);
  for (let step = 1; step <= 1_000_000; step++) c.add({ step, loss: 1 / step });
  const s = c.cols.step as number[];
  assert.ok(s.length <= MAX_POINTS && s.length > MAX_POINTS / 4, `${s.length} points`);
  assert.equal(s[0], 1);
  assert.equal(s.at(-1), 1_000_000);
  assert.equal((c.cols.loss as number[]).at(-1), 1e-6);
  for (let i = 1; i < s.length - 1; i++) assert.ok(s[i] - s[i - 1] >= c.stride, `gap at ${i}`);
  // spacing stays even: no gap wider than twice the stride
  for (let i = 1; i < s.length; i++) assert.ok(s[i] - s[i - 1] <= 2 * c.stride, `gap at ${i}`);
});

Deno.test("dashboard curve: a resumed job (a step at or before the last) drops the later points; missing figures are null", () => {
  const c = new Curve(KEYS, 8);
  for (let step = 1; step <= 20; step++) c.add({ step, loss: step });
  c.add({ step: 12 });
  const s = c.cols.step as number[];
  assert.equal(s.at(-1), 12);
  assert.ok(s.slice(0, -1).every((x) => x < 12));
  assert.equal((c.cols.loss as (number | null)[]).at(-1), null);
  assert.ok(c.length <= 8);
});
