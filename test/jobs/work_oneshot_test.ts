/** Unlearn job progress comes from the engines' log lines: each kind of line, and the ones that carry none. */
import assert from "node:assert/strict";
import { unlearnProgress } from "../../src/jobs/work_oneshot.ts";

Deno.test("unlearnProgress: start line (with or without retain), first-order and K-FADE steps; others ignored", () => {
  assert.deepEqual(unlearnProgress("unlearn npo: forget NLL 4.2500, retain NLL 3.1000"), {
    step: 0,
    forget_loss: 4.25,
  });
  assert.deepEqual(unlearnProgress("unlearn ga: forget NLL 4.2500"), { step: 0, forget_loss: 4.25 });
  assert.equal(unlearnProgress("unlearn npo: forget NLL 6.0000, retain NLL 3.2000, 1.5 s"), undefined);
  assert.equal(unlearnProgress("unlearn ga: forget NLL 6.0000, 1.5 s"), undefined);
  assert.deepEqual(
    unlearnProgress("unlearn step 3/40 loss -4.1000 forget-batch NLL 4.5000 |g| 0.900"),
    { step: 3, loss: -4.1, forget_loss: 4.5 },
  );
  assert.deepEqual(
    unlearnProgress(
      "kfade step 2: η 1.000e-2, retain KL 0.0400 (K-FAC model 3.00e-3), forget NLL 4.5000 → 5.2500",
    ),
    { step: 2, forget_loss: 5.25 },
  );
  assert.equal(unlearnProgress("wagle: mask keeps 80.0 % of the weights trainable"), undefined);
  assert.equal(unlearnProgress("kfade: refit the curvature at step 2 (0.1 s)"), undefined);
});
