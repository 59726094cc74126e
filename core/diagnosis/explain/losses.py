"""Handlers for loss errors: logits against targets."""

from __future__ import annotations

import re

from core.diagnosis.explain.context import Ctx, Result


def loss_batch(m: re.Match[str], ctx: Ctx) -> Result:
    a, b = int(m["a"]), int(m["b"])
    expl = f"The loss got {a} predictions but {b} targets: the batch dims differ."
    fix = (
        "Logits must be (batch, classes) and targets (batch,): pool per sample before the classifier (e.g. "
        "`x[:, -1]`), and don't flatten tokens into the batch with `view(-1, ...)` unless targets are per "
        "token."
    )
    return expl, fix, {"input_batch": a, "target_batch": b}
