"""Code that defines an nn.Module but never builds or calls it: build it with its defaults, run it on a sample.

People often paste only the class. Then the last ``nn.Module`` class of the paste is built with the
defaults of its ``__init__`` and its ``forward`` is called on a sample input, labelled as assumed:

- a forward taking ``input_ids`` / ``attention_mask`` next to a BERT built in ``__init__``: a sample text;
- otherwise a synthetic batch shaped for the first layer ``__init__`` builds: ``(2, 16, input_size)`` for a
  batch-first LSTM/GRU (``(16, 2, input_size)`` without batch_first), ``(2, in_features)`` for a Linear,
  ``(2, in_channels, 16)`` for a Conv1d; ``(2, 16, 768)`` when there is no such layer.
"""

from __future__ import annotations

import ast
from typing import Any

from core.code_import.huggingface import SAMPLE_TEXT
from core.code_import.values import (
    ClassV,
    Encoding,
    Instance,
    Layer,
    Model,
    NotUnderstood,
    Sequential,
    Tensor,
)
from core.spec import LayerKind

SAMPLE_BATCH, SAMPLE_LENGTH, DEFAULT_HIDDEN = 2, 16, 768


def auto_run(interp: Any, env: Any) -> None:
    """Build and call the last never-used nn.Module class, with a note saying what was assumed."""
    candidates = [c for c in interp.classes if c.is_module and id(c) not in interp.instantiated]
    if not candidates:
        return
    cls: ClassV = candidates[-1]
    record = interp.record_of(cls.node)
    saved = (interp.line, interp.record)
    interp.line, interp.record = cls.node.lineno, record
    try:
        _run(interp, cls)
    except NotUnderstood as e:
        interp.notes.append(f"`{cls.name}` is never built or called in the code, and could not be run: {e}")
    finally:
        interp.line, interp.record = saved


def _run(interp: Any, cls: ClassV) -> None:
    init = cls.method("__init__")
    if init is not None:
        missing = _required(init)[1:]  # after self
        if missing:
            raise NotUnderstood(
                f"its __init__ needs {', '.join(missing)} (no defaults): build it in the code, e.g. "
                f"`model = {cls.name}({', '.join(f'{m}=…' for m in missing)})`"
            )
    inst: Instance = interp.instantiate(cls, [], {}, cls.node)
    forward = cls.method("forward")
    if forward is None:
        raise NotUnderstood("it has no forward method")
    params = [a.arg for a in forward.args.args][1:]
    if not params:
        raise NotUnderstood("its forward takes no input")
    model = next((v for v in inst.attrs.values() if isinstance(v, Model)), None)
    args: list[Any]
    if model is not None and params[0] in ("input_ids", "ids", "inputs", "x", "tokens"):
        enc = Encoding((SAMPLE_TEXT,), None, cls.node.lineno)
        interp.encodings.append(enc)
        ids = Tensor(interp.graph.add_builtin("input_ids", interp.line, interp.record))
        mask = Tensor(interp.graph.add_builtin("attention_mask", interp.line, interp.record))
        args = [ids, mask][: len(_required(forward)) - 1 or 1]
        what = f"the sample text {SAMPLE_TEXT!r}"
    else:
        shape = _sample_shape(inst)
        term = ast.Call(
            ast.Attribute(ast.Name("torch", ast.Load()), "randn", ast.Load()), [ast.Constant(d) for d in shape], []
        )
        vid = interp.graph.add_source(shape, interp.line, interp.record)
        interp.graph.op_of(vid).term = term
        args = [Tensor(vid)]
        what = f"a sample batch torch.randn{shape}"
    interp.notes.append(
        f"`{cls.name}` is never built or called in the code: it is built with its defaults and run on {what} "
        "(an assumption: build and call it in the code to choose the input)"
    )
    interp.call_instance(inst, args, {}, cls.node)


def _required(fn: ast.FunctionDef) -> list[str]:
    positional = [*fn.args.posonlyargs, *fn.args.args]
    return [a.arg for a in positional[: len(positional) - len(fn.args.defaults)]]


def _layers(value: Any) -> list[Layer]:
    if isinstance(value, Layer):
        return [value]
    if isinstance(value, Sequential):
        return [layer for item in value.items for layer in _layers(item)]
    if isinstance(value, Instance):
        return [layer for v in value.attrs.values() for layer in _layers(v)]
    return []


def _sample_shape(inst: Instance) -> tuple[int, ...]:
    layers = sorted(_layers(inst), key=lambda layer: layer.line)
    if not layers:
        return SAMPLE_BATCH, SAMPLE_LENGTH, DEFAULT_HIDDEN
    first = layers[0]
    p = first.params
    if first.kind is LayerKind.LINEAR:
        return SAMPLE_BATCH, int(p.get("in_features") or DEFAULT_HIDDEN)
    if first.kind is LayerKind.CONV1D:
        return SAMPLE_BATCH, int(p.get("in_channels") or DEFAULT_HIDDEN), SAMPLE_LENGTH
    size = int(p.get("input_size") or DEFAULT_HIDDEN)
    if p.get("batch_first"):
        return SAMPLE_BATCH, SAMPLE_LENGTH, size
    return SAMPLE_LENGTH, SAMPLE_BATCH, size
