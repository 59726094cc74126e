"""Warnings for layer steps that run but read the input the wrong way.

- ``batch_first``: an LSTM/GRU with batch_first=False on a (batch, tokens, hidden) tensor steps through the batch.
- ``unbatched_sequence``: a 2-D (batch, hidden) tensor into an LSTM/GRU is read as ONE sequence of batch steps.
- ``conv_over_hidden``: Conv1d on (batch, tokens, hidden) convolves across hidden units, not along the tokens.
"""

from __future__ import annotations

from core.diagnosis import axes as ax
from core.diagnosis.finding_tools import checked, labels, shape_str
from core.diagnosis.reshape_axes import SEQUENCE_ROLES
from core.fixes import Fix
from core.records import Finding, Stage
from core.spec import LayerKind, LayerStep, Spec

_RNN = {LayerKind.LSTM: "LSTM", LayerKind.GRU: "GRU"}


def layer_findings(spec: Spec, stages: list[Stage], i: int, step: LayerStep) -> list[Finding]:
    from core.engine.layers import resolved_params

    prev = stages[-2]
    shape, axes = tuple(prev.shape), ax.fit(prev.axes, tuple(prev.shape))
    p = resolved_params(step, shape)
    before = stages[:-1]
    out: list[Finding] = []
    if step.kind in _RNN:
        name = _RNN[step.kind]
        if len(shape) == 3 and not p.get("batch_first") and axes[0].role == "batch" and axes[1].role != "batch":
            fix = Fix(f"set batch_first=True on step {i + 1}", "set_param", index=i, param="batch_first", value=True)
            out.append(
                Finding(
                    "batch_first",
                    f"nn.{name}(batch_first=False) reads its input as (seq, batch, features), but this tensor is "
                    f"{labels(axes)} {shape_str(shape)}: the {name} stepped through the {shape[0]} {axes[0].name} "
                    f"entries as if they were time, and treated the {shape[1]} {axes[1].name} as independent "
                    "sequences. Set batch_first=True (or transpose to (L, B, H) first).",
                    checked(spec, fix, before, i),
                    step_index=i,
                )
            )
        if len(shape) == 2 and axes[0].role == "batch":
            dim = 1 if p.get("batch_first") else 0
            src = f"x.unsqueeze({dim})"
            fix = Fix(f"insert `{src}` before step {i + 1}", "insert", index=i, step=src)
            seq = f"({shape[0]}, 1, {shape[1]})" if dim == 1 else f"(1, {shape[0]}, {shape[1]})"
            out.append(
                Finding(
                    "unbatched_sequence",
                    f"nn.{name} got a 2-D {labels(axes)} tensor {shape_str(shape)} and silently read it as ONE "
                    f"unbatched sequence of {shape[0]} time steps: the {shape[0]} texts now feed into each other "
                    f"through the hidden state. Give every text its own sequence of length 1 with `{src}` -> {seq}.",
                    checked(spec, fix, before, i + 1),
                    step_index=i,
                )
            )
    if (
        step.kind is LayerKind.CONV1D
        and len(shape) == 3
        and axes[1].role in SEQUENCE_ROLES
        and axes[2].role in ("hidden", "features")
    ):
        fix = _conv_permute_fix(spec, i, step, shape, axes)
        out.append(
            Finding(
                "conv_over_hidden",
                f"nn.Conv1d reads (batch, channels, length), so here its {shape[1]} channels are your "
                f"{axes[1].label} and it slides along {axes[2].label} ({shape[2]}): it convolves across "
                f"{axes[2].name} units instead of along the sequence. It only ran because in_channels equals the "
                f"number of {axes[1].name}. Put {axes[2].name} on dim 1 first: `x.permute(0, 2, 1)`.",
                checked(spec, fix, before, i + 1),
                step_index=i,
            )
        )
    return out


def _conv_permute_fix(spec: Spec, i: int, step: LayerStep, shape: tuple[int, ...], axes) -> Fix | None:
    src = "x.permute(0, 2, 1)"
    if "in_channels" not in step.params:
        return Fix(f"insert `{src}` before step {i + 1}", "insert", index=i, step=src)
    steps = spec.to_dict()["steps"]
    ((kind, params),) = steps[i].items()
    steps[i] = {kind: {**params, "in_channels": shape[2]}}
    steps.insert(i, src)
    return Fix(
        f"insert `{src}` before step {i + 1} and set its in_channels={shape[2]}", "set", key="steps", value=steps
    )
