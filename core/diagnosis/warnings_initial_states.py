"""Warnings for an LSTM/GRU step's initial states ``h0`` / ``c0`` that run now but break on another batch.

- ``state_fixed_batch``: ``h0 = torch.zeros(1, 32, 300)`` writes the batch size as a number. It fits this batch; the
  last batch of an epoch is usually smaller (1,000 texts in batches of 32 end with 8), and then torch raises
  ``Expected hidden[0] size (1, 8, 300), got [1, 32, 300]``. Fix: build it from the input, ``x.size(0)``
  (``x.size(1)`` seq-first), on every forward — or leave it out (PyTorch starts from zeros).
"""

from __future__ import annotations

from typing import Any

from core.diagnosis.finding_tools import checked
from core.diagnosis.initial_states import batch_code, literal_batch, sources, state_edit
from core.diagnosis.step_names import step_input
from core.fixes import Fix
from core.records import Finding, Stage
from core.spec import LayerKind, LayerStep, Spec


def layer_findings(spec: Spec, stages: list[Stage], i: int, step: LayerStep, info: dict[str, Any]) -> list[Finding]:
    """``state_fixed_batch`` for an h0 / c0 written with the batch as a number, inline or in the step that binds
    the name the layer reads (``h0 = torch.zeros(1, 32, 300)``, then ``"h0": "h0"``); the batch is read from the
    layer's own input (``emb.size(0)`` when it reads ``emb``) and the fix edits the step that wrote the number."""
    from core.engine.layers import resolved_params

    if step.kind not in (LayerKind.LSTM, LayerKind.GRU) or (step.h0 is None and step.c0 is None):
        return []
    fixed = [(src, literal_batch(src.text)) for src in sources(spec.steps, i, step)]
    fixed = [(src, batch) for src, batch in fixed if batch is not None]
    named = step_input(step, info.get("book"))
    shape = tuple(named.shape) if named is not None else ()
    if not fixed or len(shape) != 3:
        return []
    src, batch = fixed[0]
    params = resolved_params(step, shape)
    code = batch_code(step, params)
    edit = state_edit(spec, i, step, params, shape)
    name = step.kind.value.upper()
    keys = sorted({k for s, _ in fixed for k in s.keys}) if len(fixed) > 1 else list(src.keys)
    if step.c0 is not None and "c0" not in keys and step.kind is LayerKind.LSTM:
        keys = ["h0", "c0"]
    states = " and ".join(keys)
    where = f" (step {src.step + 1}, read as {' and '.join(src.keys)} by step {i + 1})" if src.step is not None else ""
    new = edit.rebuilt.get(src.keys[0]) if edit is not None else None
    msg = (
        f"`{src.quoted}`{where} writes the batch size as the number {batch}. It fits this batch of {batch}, but the "
        f"last batch of an epoch is usually smaller (a dataset that does not divide into batches of {batch}), and "
        f"then nn.{name} raises `Expected hidden[0] size (…, smaller batch, …), got [… {batch} …]`. Build {states} "
        f"from the input on every forward, `{code}`"
        + (f": `{new}`" if new else "")
        + " — or leave them out: PyTorch starts from zeros."
    )
    fix = None
    if edit is not None:
        fix = checked(spec, Fix(f"build the initial state from the input's batch: {' and '.join(edit.parts)}", "set",
                                key="steps", value=edit.steps), stages[:-1], i)  # fmt: skip
    return [Finding("state_fixed_batch", msg, fix, step_index=i)]
