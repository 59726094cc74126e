"""A torchinfo-style summary of a pipeline, from its trace records: one row per step, totals at the bottom.

Per step (the pooling too, when there is one): the layer (``LSTM``, ``Linear``, … or the expression), input and
output shape, parameters and whether they train (torchinfo's "Trainable" column; all do: the app's layers are
freshly built ``torch.nn`` modules), and the output's memory.
Totals follow torchinfo's ``ModelStatistics`` definitions exactly, so the numbers match
``torchinfo.summary`` run on the exported script's model (tests/test_summary.py checks it):

- total / trainable / non-trainable params: the sum over layers;
- input size: the bytes of the pipeline's source tensor (the encoder output, or the synthetic tensor);
  torchinfo measures ``sys.getsizeof`` of the tensor's storage, a few dozen bytes of Python header more;
- forward/backward pass size: twice the output bytes of every layer that has parameters (torchinfo
  keeps one gradient per activation; parameter-free steps such as a reshape are not counted);
- params size: parameters × element size; estimated total = input + pass + params. MB = 10^6 bytes.

Example::

    >>> from core.spec import Spec
    >>> from core.trace import run_spec
    >>> spec = Spec.from_dict({"shape": [4, 16, 32], "steps": [{"linear": {"out_features": 2}}]})
    >>> s = summarize(run_spec(spec).stages)
    >>> [(r.layer, r.input_shape, r.output_shape, r.params) for r in s.rows]
    [('Linear', (4, 16, 32), (4, 16, 2), 66)]
    >>> s.pass_bytes                             # 2 x (4·16·2 floats x 4 bytes)
    1024
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.records import Stage

LAYER_NAMES = {"lstm": "LSTM", "gru": "GRU", "conv1d": "Conv1d", "linear": "Linear"}
ELEMENT_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int64": 8, "int32": 4, "bool": 1}


@dataclass(frozen=True)
class SummaryRow:
    """One step of the pipeline.

    Attributes:
        step: the step number (1-based), or None for the pooling; name: the stage name, e.g. ``"step 3"``.
        layer: ``"LSTM"``, ``"GRU"``, ``"Conv1d"``, ``"Linear"``, ``"pooling"``, or ``"expression"`` for a tensor
            expression; source: the step as written (``x.transpose(1, 2)``, ``nn.LSTM(hidden_size=128, …)``).
        input_shape, output_shape: the tensor before and after the step (``(batch, seq_len, hidden)`` …).
        params, trainable: parameter counts (0 for expressions); output_bytes: numel × element size.
    """

    step: int | None
    name: str
    layer: str
    source: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    trainable: int
    output_bytes: int

    @property
    def has_params(self) -> bool:
        return self.params > 0

    @property
    def trainable_text(self) -> str:
        """torchinfo's "Trainable" column (``LayerInfo.trainable``): ``"True"`` when every parameter requires grad,
        ``"False"`` when none does, ``"Partial"`` in between, ``"--"`` for a step without parameters."""
        if not self.has_params:
            return "--"
        if self.trainable == 0:
            return "False"
        return "True" if self.trainable == self.params else "Partial"


@dataclass(frozen=True)
class Summary:
    """The rows and torchinfo's totals (see the module docstring for each definition)."""

    rows: tuple[SummaryRow, ...]
    input_shape: tuple[int, ...] | None
    input_bytes: int
    total_params: int
    trainable_params: int
    param_bytes: int
    pass_bytes: int

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def total_bytes(self) -> int:
        """torchinfo's "Estimated Total Size": input + forward/backward pass + params."""
        return self.input_bytes + self.pass_bytes + self.param_bytes

    def totals(self) -> list[tuple[str, str]]:
        """The bottom lines as (label, value) in torchinfo's words and units (MB = 10^6 bytes, 2 decimals)."""
        return [
            ("Total params", f"{self.total_params:,}"),
            ("Trainable params", f"{self.trainable_params:,}"),
            ("Non-trainable params", f"{self.non_trainable_params:,}"),
            ("Input size (MB)", f"{megabytes(self.input_bytes):.2f}"),
            ("Forward/backward pass size (MB)", f"{megabytes(self.pass_bytes):.2f}"),
            ("Params size (MB)", f"{megabytes(self.param_bytes):.2f}"),
            ("Estimated Total Size (MB)", f"{megabytes(self.total_bytes):.2f}"),
        ]

    def text(self) -> str:
        """The summary as fixed-width text, laid out like torchinfo's printout."""
        head = ("Step", "Layer", "Input Shape", "Output Shape", "Param #", "Trainable", "Output memory")
        body = [
            (
                f"{r.step}" if r.step is not None else "-",
                r.layer if r.layer != "expression" else _clip(r.source, 28),
                str(list(r.input_shape)),
                str(list(r.output_shape)),
                f"{r.params:,}" if r.has_params else "--",
                r.trainable_text,
                human_bytes(r.output_bytes),
            )
            for r in self.rows
        ]
        widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]
        line = "  ".join("{:<" + str(w) + "}" for w in widths)
        rule = "=" * (sum(widths) + 2 * (len(widths) - 1))
        out = [rule, line.format(*head), rule, *(line.format(*row) for row in body), rule]
        out += [f"{label}: {value}" for label, value in self.totals()[:3]]
        out.append(rule)
        out += [f"{label}: {value}" for label, value in self.totals()[3:]]
        out.append(rule)
        return "\n".join(out)


def summarize(stages: Sequence[Stage]) -> Summary:
    """The summary of a trace's stages: the first (source) stage is the input, every later one a row."""
    if not stages:
        return Summary((), None, 0, 0, 0, 0, 0)
    source, later = stages[0], list(stages[1:])
    rows: list[SummaryRow] = []
    previous = source
    for stage in later:
        params = int(stage.extra("parameters", 0) or 0)
        rows.append(
            SummaryRow(
                step=stage.step_index + 1 if stage.step_index is not None else None,
                name=stage.title,
                layer=LAYER_NAMES.get(stage.kind, "pooling" if stage.kind == "pooling" else "expression"),
                source=stage.source,
                input_shape=tuple(previous.shape),
                output_shape=tuple(stage.shape),
                params=params,
                trainable=params,  # freshly built torch.nn modules: every parameter requires grad
                output_bytes=int(stage.bytes),
            )
        )
        previous = stage
    param_bytes = sum(r.params * ELEMENT_BYTES.get(s.dtype, 4) for r, s in zip(rows, later))
    return Summary(
        rows=tuple(rows),
        input_shape=tuple(source.shape),
        input_bytes=int(source.bytes),
        total_params=sum(r.params for r in rows),
        trainable_params=sum(r.trainable for r in rows),
        param_bytes=param_bytes,
        pass_bytes=2 * sum(r.output_bytes for r in rows if r.has_params),
    )


def megabytes(n: int) -> float:
    """Bytes -> MB as torchinfo counts them (10^6 bytes)."""
    return n / 1e6


def human_bytes(n: int) -> str:
    """``1536 -> "1.5 KiB"`` (binary units, as the stage table shows sizes)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["Summary", "SummaryRow", "human_bytes", "megabytes", "summarize"]
