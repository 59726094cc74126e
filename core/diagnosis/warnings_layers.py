"""Warnings for layer steps that run but read the input the wrong way.

- ``batch_first``: an LSTM/GRU with batch_first=False on a (batch, tokens, hidden) tensor steps through the batch.
- ``unbatched_sequence``: a 2-D (batch, hidden) tensor into an LSTM/GRU is read as ONE sequence of batch steps.
- ``conv_over_hidden``: Conv1d on (batch, tokens, hidden) convolves across hidden units, not along the tokens.

The input is the tensor the layer reads (its ``input`` name, ``x`` by default), wherever it was bound; a fix that
changes it is written over that name (``emb = emb.permute(0, 2, 1)``, see ``finding_tools.on_input``).
"""

from __future__ import annotations

from typing import Any

from core.diagnosis import axes as ax
from core.diagnosis.finding_tools import checked, labels, on_input, shape_str
from core.diagnosis.reshape_axes import SEQUENCE_ROLES
from core.diagnosis.step_names import step_input
from core.fixes import Fix
from core.records import Finding, Stage
from core.spec import LayerKind, LayerStep, Spec

_RNN = {LayerKind.LSTM: "LSTM", LayerKind.GRU: "GRU"}


def layer_findings(spec: Spec, stages: list[Stage], i: int, step: LayerStep, info: dict[str, Any]) -> list[Finding]:
    from core.engine.layers import resolved_params

    named = step_input(step, info.get("book"))
    if named is None:
        return []
    shape, axes = tuple(named.shape), ax.fit(named.axes, tuple(named.shape))
    name = step.input
    p = resolved_params(step, shape)
    before = stages[:-1]
    out: list[Finding] = []
    if step.kind in _RNN:
        rnn = _RNN[step.kind]
        if len(shape) == 3 and not p.get("batch_first") and axes[0].role == "batch" and axes[1].role != "batch":
            fix = Fix(f"set batch_first=True on step {i + 1}", "set_param", index=i, param="batch_first", value=True)
            out.append(
                Finding(
                    "batch_first",
                    f"nn.{rnn}(batch_first=False) reads its input as (seq, batch, features), but `{name}` is "
                    f"{labels(axes)} {shape_str(shape)}: the {rnn} stepped through the {shape[0]} {axes[0].name} "
                    f"entries as if they were time, and treated the {shape[1]} {axes[1].name} as independent "
                    "sequences. Set batch_first=True (or transpose to (L, B, H) first).",
                    checked(spec, fix, before, i),
                    step_index=i,
                )
            )
        if len(shape) == 2 and axes[0].role == "batch":
            dim = 1 if p.get("batch_first") else 0
            fix = on_input(spec, i, name, f"x.unsqueeze({dim})", suffix="seq")
            src = f"{name}.unsqueeze({dim})"
            seq = f"({shape[0]}, 1, {shape[1]})" if dim == 1 else f"(1, {shape[0]}, {shape[1]})"
            out.append(
                Finding(
                    "unbatched_sequence",
                    f"nn.{rnn} got a 2-D {labels(axes)} tensor {shape_str(shape)} and silently read it as ONE "
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
        fix = _conv_permute_fix(spec, i, step, shape)
        out.append(
            Finding(
                "conv_over_hidden",
                f"nn.Conv1d reads (batch, channels, length), so here its {shape[1]} channels are your "
                f"{axes[1].label} and it slides along {axes[2].label} ({shape[2]}): it convolves across "
                f"{axes[2].name} units instead of along the sequence. It only ran because in_channels equals the "
                f"number of {axes[1].name}. Put {axes[2].name} on dim 1 first: `{name}.permute(0, 2, 1)`.",
                checked(spec, fix, before, i + 1),
                step_index=i,
            )
        )
    return out


def _conv_permute_fix(spec: Spec, i: int, step: LayerStep, shape: tuple[int, ...]) -> Fix | None:
    """Permute the layer's input to (batch, hidden, tokens) — and set in_channels to the hidden size if given."""
    new = None
    if "in_channels" in step.params:
        new = {**step.to_json(), step.kind.value: {**step.params, "in_channels": shape[2]}}
    fix = on_input(spec, i, step.input, "x.permute(0, 2, 1)", step=new)
    if new is None:
        return fix
    return Fix(f"{fix.description} and set its in_channels={shape[2]}", fix.op, fix.index, fix.step, key=fix.key,
               value=fix.value)  # fmt: skip
