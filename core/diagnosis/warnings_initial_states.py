"""Warnings for an LSTM/GRU step's initial states ``h0`` / ``c0`` that run now but break on another batch.

- ``state_fixed_batch``: ``h0 = torch.zeros(1, 32, 300)`` writes the batch size as a number. It fits this batch; the
  last batch of an epoch is usually smaller (1,000 texts in batches of 32 end with 8), and then torch raises
  ``Expected hidden[0] size (1, 8, 300), got [1, 32, 300]``. Fix: build it from the input, ``x.size(0)``
  (``x.size(1)`` seq-first), on every forward — or leave it out (PyTorch starts from zeros).
"""

from __future__ import annotations

from core.diagnosis.finding_tools import checked
from core.diagnosis.initial_states import batch_code, literal_batch, rebuilt_step
from core.fixes import Fix
from core.records import Finding, Stage
from core.spec import LayerKind, LayerStep, Spec


def layer_findings(spec: Spec, stages: list[Stage], i: int, step: LayerStep) -> list[Finding]:
    from core.engine.layers import resolved_params

    if step.kind not in (LayerKind.LSTM, LayerKind.GRU) or step.h0 is None:
        return []
    batch = literal_batch(step.h0)
    prev = stages[-2]
    shape = tuple(prev.shape)
    if batch is None or len(shape) != 3:
        return []
    params = resolved_params(step, shape)
    code = batch_code(step, params)
    new = rebuilt_step(step, params, shape)
    name = step.kind.value.upper()
    states = "h0 and c0" if step.c0 is not None else "h0"
    msg = (
        f"`h0 = {step.h0}` writes the batch size as the number {batch}. It fits this batch of {batch}, but the last "
        f"batch of an epoch is usually smaller (a dataset that does not divide into batches of {batch}), and then "
        f"nn.{name} raises `Expected hidden[0] size (…, smaller batch, …), got [… {batch} …]`. Build {states} from "
        f"the input on every forward, `{code}`"
        + (f": `{new['h0']}`" if "h0" in new else "")
        + " — or leave them out: PyTorch starts from zeros."
    )
    fix = None
    if new:
        steps = spec.to_dict()["steps"]
        steps[i] = {**steps[i], **new}
        text = " and ".join(f"{k} = `{v}`" for k, v in new.items())
        fix = checked(spec, Fix(f"build the initial state from the input's batch: {text}", "set", key="steps",
                                value=steps), stages[:-1], i)  # fmt: skip
    return [Finding("state_fixed_batch", msg, fix, step_index=i)]
