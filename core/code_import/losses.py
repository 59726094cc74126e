"""Losses in pasted code, imported as the Spec's loss step (``core.loss_step``, issue 12).

``criterion = nn.CrossEntropyLoss(reduction="sum")`` then ``loss = criterion(logits, labels)``, the same in one
line, or ``F.cross_entropy(logits, labels)``: a loss step ``{"loss": {"kind": ..., <params>}, "input": <logits>,
"target": ...}``. The target is

- literal labels, ``labels = torch.tensor([1, 0])`` (one per text, or per row of a synthetic input): the Spec's
  ``labels`` and the target ``labels`` — with ``.view(-1)`` / ``.float()`` / ``.long()`` kept as the expression;
- random ones, ``torch.randint(0, K, (B,))`` (``.float()`` for multi-hot rows): a synthetic target
  ``{"shape": [B], "dtype": "long", "high": K}``.

Anything else as a target is "not understood" with the reason.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from core.code_import.evaluate import Evaluator
from core.code_import.scope import concrete_int, describe
from core.code_import.values import Dtype, Labels, Loss, NotUnderstood, Py, RandomTarget, Seq, Size, Tensor, Term

FUNCTIONAL = {
    "cross_entropy": "CrossEntropyLoss",
    "binary_cross_entropy_with_logits": "BCEWithLogitsLoss",
    "mse_loss": "MSELoss",
    "nll_loss": "NLLLoss",
}
PARAM_NAMES = ("weight", "ignore_index", "reduction", "label_smoothing", "pos_weight")
PADDING = -100  # torch's default ignore_index: our export pads ragged label rows with it


def literal(value: Any) -> Any:
    """Nested lists of known numbers as Python values (None when something is not a literal number)."""
    if isinstance(value, Size) and isinstance(value.value, int | float) and not value.refs:
        return value.value
    if isinstance(value, Seq):
        items = [literal(v) for v in value.items]
        return None if any(i is None for i in items) else items
    return None


def labels_call(name: str, args: list[Any], kwargs: dict[str, Any]) -> Labels | None:
    """``torch.tensor([...])`` / ``torch.LongTensor([...])``: Labels when the data is literal, else None."""
    data = literal(args[0]) if args else None
    if not isinstance(data, list) or not data:
        return None
    flat = [v for row in data for v in (row if isinstance(row, list) else [row])]
    dtype = "float" if name == "FloatTensor" or any(isinstance(v, float) for v in flat) else "long"
    given = kwargs.get("dtype")
    if isinstance(given, Dtype):
        dtype = "float" if given.name.startswith(("float", "half", "double", "bfloat")) else "long"
    return Labels(tuple(tuple(r) if isinstance(r, list) else r for r in data), dtype)


def randint_call(args: list[Any], kwargs: dict[str, Any]) -> RandomTarget | None:
    """``torch.randint(low, high, size)`` with low 0 and a literal size: a RandomTarget, else None."""
    if len(args) == 2:
        low, high, size = Size.of(0), args[0], args[1]
    elif len(args) >= 3:
        low, high, size = args[0], args[1], args[2]
    else:
        return None
    size = kwargs.get("size", size)
    shape = literal(size)
    if literal(low) != 0 or not isinstance(literal(high), int) or not isinstance(shape, list):
        return None
    if not shape or not all(isinstance(d, int) and d >= 1 for d in shape):
        return None
    return RandomTarget(tuple(shape), "long", literal(high))


def rand_call(args: list[Any], kwargs: dict[str, Any]) -> RandomTarget | None:
    """``torch.rand(shape)``: a float RandomTarget (uniform in [0, 1)), else None."""
    sizes = list(args) if not (len(args) == 1 and isinstance(args[0], Seq)) else list(args[0].items)
    shape = [literal(s) for s in sizes]
    if not shape or not all(isinstance(d, int) and d >= 1 for d in shape):
        return None
    return RandomTarget(tuple(shape), "float", None)


def target_method(value: Labels | RandomTarget, name: str, args: list[Any]) -> Labels | RandomTarget:
    """The methods people apply to a target: casts, flattening, device moves."""
    if name in ("to", "cuda", "cpu", "detach"):
        if args and isinstance(args[0], Dtype):
            name = "float" if args[0].name.startswith("float") else "long"
        else:
            return value
    if name in ("float", "long"):
        if isinstance(value, RandomTarget):
            return replace(value, dtype=name)
        return replace(value, dtype=name, suffix=f"{value.suffix}.{name}()")
    flat = name in ("flatten",) or (name in ("view", "reshape") and [literal(a) for a in args] == [-1])
    if flat:
        if isinstance(value, RandomTarget):
            return replace(value, shape=(math.prod(value.shape),))
        return replace(value, suffix=f"{value.suffix}.{name}({'-1' if name != 'flatten' else ''})")
    raise NotUnderstood(f"`.{name}()` of a loss target is not understood (casts and view(-1) are)")


class LossCalls(Evaluator):
    """Calling a loss (module or functional): a loss op on the graph."""

    labels: Labels | None = None

    def loss_call(self, loss: Loss, args: list[Any], kwargs: dict[str, Any]) -> Tensor:
        given = list(args) + [kwargs[k] for k in ("input", "target") if k in kwargs]
        if len(given) < 2:
            raise NotUnderstood(f"nn.{loss.kind} is called with logits and targets")
        logits, target = given[0], given[1]
        if not self.is_tensor(logits):
            raise NotUnderstood(f"the loss's first argument is {describe(logits)}, not the logits")
        x = self.as_tensor(logits)
        params = {k: _plain(k, v) for k, v in loss.params.items() if k in PARAM_NAMES}
        if isinstance(target, Labels):
            if self.labels is not None and self.labels.data != target.data:
                raise NotUnderstood("a second set of labels: the pipeline holds one (the Spec's labels)")
            self.labels = target
            spec_target: Any = "labels" + target.suffix
        elif isinstance(target, RandomTarget):
            spec_target = {"shape": list(target.shape), "dtype": target.dtype}
            if target.high is not None:
                spec_target["high"] = target.high
        elif isinstance(target, Tensor | Term):
            raise NotUnderstood(
                "the loss target must be literal labels (torch.tensor([...])) or random ones "
                "(torch.randint(0, K, shape)); a target computed from the pipeline is not a loss step's target"
            )
        else:
            raise NotUnderstood(f"the loss target is {describe(target)}, not a tensor of labels")
        op = self.graph._new_op("loss", self.line, self.record, inputs=(x.vid,), primary=x.vid)
        op.loss = {"kind": loss.kind, "params": params, "target": spec_target}
        self.effect(f"nn.{loss.kind}: the loss")
        return Tensor(op.outs[0])


def functional_loss(name: str, args: list[Any], kwargs: dict[str, Any]) -> tuple[Loss, list[Any], dict[str, Any]]:
    """``F.cross_entropy(logits, target, reduction=…)`` as a Loss and its call arguments."""
    params = {k: v for k, v in kwargs.items() if k in PARAM_NAMES}
    call = {k: v for k, v in kwargs.items() if k in ("input", "target")}
    return Loss(FUNCTIONAL[name], params), list(args), call


def _plain(name: str, value: Any) -> Any:
    if name in ("weight", "pos_weight"):
        if isinstance(value, Labels):
            return [float(v) for v in value.data]
        raise NotUnderstood(f"`{name}` must be written out, e.g. torch.tensor([1.0, 2.0])")
    if name == "reduction":
        if isinstance(value, Py) and isinstance(value.value, str):
            return value.value
        raise NotUnderstood("`reduction` must be a string: 'mean', 'sum' or 'none'")
    if name == "label_smoothing":
        if isinstance(value, Size) and isinstance(value.value, int | float):
            return float(value.value)
        raise NotUnderstood("`label_smoothing` must be a number the code fixes")
    return concrete_int(value, f"`{name}`")


def spec_labels(labels: Labels) -> list[Any]:
    """The Spec's ``labels`` from literal labels; rows padded with -100 (our export's padding) lose it."""
    out: list[Any] = []
    for row in labels.data:
        if isinstance(row, tuple):
            items = list(row)
            while items and items[-1] == PADDING:
                items.pop()
            out.append([float(v) if labels.dtype == "float" else v for v in items])
        else:
            out.append(float(row) if labels.dtype == "float" else row)
    return out
