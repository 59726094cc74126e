"""TensorFlow snippets, translated to their torch equivalents with a visible note per line.

Only calls with a faithful torch twin are translated; the rest are refused with the reason:

- ``tf.random.normal(shape)`` / ``tf.zeros`` / ``tf.ones`` → the source ``torch.randn(shape)``;
- ``tf.shape(x)[i]`` → ``x.shape[i]``; ``tf.reshape(x, s)`` → ``x.reshape(s)``;
  ``tf.transpose(x, perm=p)`` → ``x.permute(p)``;
- ``tf.pad(x, [[a0, b0], [a1, b1], [a2, b2]])`` → ``F.pad(x, (a2, b2, a1, b1, a0, b0))`` (last axis first;
  trailing zero pairs dropped);
- ``tf.cast(a / b, tf.int32)`` of sizes → ``a // b`` (the same for sizes ≥ 0); of a tensor → ``x.to(dtype)``;
- ``tf.concat`` / ``tf.stack`` / ``tf.expand_dims`` / ``tf.squeeze`` → ``torch.cat`` / ``torch.stack`` /
  ``unsqueeze`` / ``squeeze``; ``tf.reduce_mean/sum/max/min(x, axis)`` → ``x.mean/sum/amax/amin(dim=axis)``;
  ``tf.matmul`` / ``tf.nn.softmax`` → ``torch.matmul`` / ``torch.softmax``;
- ``tf.keras.layers.Flatten()`` → ``x.flatten(1)``; ``Dense(units)`` → ``nn.Linear(…, units)``;
  ``LSTM/GRU(units, return_sequences=…)`` → ``nn.LSTM/GRU(hidden_size=units, batch_first=True)`` (then
  ``x[:, -1, :]`` unless return_sequences); ``Conv1D(filters, kernel_size)`` → ``x.transpose(1, 2)``,
  ``nn.Conv1d``, ``x.transpose(1, 2)`` (Keras is channels-last).
"""

from __future__ import annotations

import ast
from typing import Any

from core.code_import.scope import describe
from core.code_import.values import (
    Applied,
    Func,
    NotUnderstood,
    Passer,
    Py,
    Seq,
    Sequential,
    ShapeOf,
    Size,
    Term,
)
from core.spec import LayerKind

TF_DTYPES = {
    "int32": "int32", "int64": "int64", "float32": "float32", "float64": "float64", "float16": "float16",
    "bool": "bool", "int8": "int8", "uint8": "uint8", "bfloat16": "bfloat16",
}  # fmt: skip
_REDUCE = {"reduce_mean": "mean", "reduce_sum": "sum", "reduce_max": "amax", "reduce_min": "amin"}


def _short(path: str) -> str:
    return "tf." + path.split(".", 1)[1] if path.startswith("tensorflow.") else path


def _arg(args: list[Any], kwargs: dict[str, Any], i: int, name: str, default: Any = None) -> Any:
    if len(args) > i:
        return args[i]
    return kwargs.get(name, default)


def call(ev: Any, path: str, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    ev.framework = "TensorFlow"
    name = path.rsplit(".", 1)[-1]
    short = _short(path)
    if ".keras." in path or path.startswith("keras."):
        return _keras(ev, path, name, args, kwargs)
    if name in ("normal", "uniform", "zeros", "ones", "truncated_normal"):
        shape = _arg(args, kwargs, 0, "shape")
        note = f"translated: {short}(shape) → torch.randn(shape): the same shape, the app's random values"
        ev.note(note)
        result = ev.source_call("randn", [shape] if shape is not None else [], {}, node)
        ev.graph.op_of(result.vid).translated = note
        return result
    if name == "shape":
        ev.note(f"translated: {short}(x)[i] → x.shape[i]")
        return ev.shape_of(args[0])
    if name == "reshape":
        x, shape = _arg(args, kwargs, 0, "tensor"), _arg(args, kwargs, 1, "shape")
        sizes = list(shape.items) if isinstance(shape, Seq) else [shape]
        return _translated(ev, short, ev.term_call("reshape", sizes, {}, method_of=x))
    if name == "transpose":
        x, perm = _arg(args, kwargs, 0, "a"), _arg(args, kwargs, 1, "perm")
        if perm is None or (isinstance(perm, Py) and perm.value is None):
            rank = _rank(ev, x)
            if rank is None:
                raise NotUnderstood(
                    "tf.transpose without perm reverses every axis; give perm=[…] so the order is known"
                )
            perm = Seq(tuple(Size.of(i) for i in reversed(range(rank))))
        items = list(perm.items) if isinstance(perm, Seq) else [perm]
        return _translated(ev, short, ev.term_call("permute", items, {}, method_of=x))
    if name == "pad":
        return _pad(ev, short, args, kwargs)
    if name == "cast":
        return _cast(ev, short, _arg(args, kwargs, 0, "x"), _arg(args, kwargs, 1, "dtype"))
    if name in ("concat", "stack"):
        values, axis = _arg(args, kwargs, 0, "values"), _arg(args, kwargs, 1, "axis", Size.of(0))
        fn = "torch.cat" if name == "concat" else "torch.stack"
        return _translated(ev, short, ev.term_call(fn, [values], {"dim": axis}))
    if name == "expand_dims":
        return _translated(ev, short, ev.term_call("unsqueeze", [_arg(args, kwargs, 1, "axis")], {},
                                                   method_of=_arg(args, kwargs, 0, "input")))  # fmt: skip
    if name == "squeeze":
        axis = _arg(args, kwargs, 1, "axis")
        sizes = [] if axis is None or (isinstance(axis, Py) and axis.value is None) else [axis]
        return _translated(ev, short, ev.term_call("squeeze", sizes, {}, method_of=_arg(args, kwargs, 0, "input")))
    if name in _REDUCE:
        x = _arg(args, kwargs, 0, "input_tensor")
        axis = _arg(args, kwargs, 1, "axis")
        keep = _arg(args, kwargs, 2, "keepdims", Py(False))
        kw = {} if axis is None or (isinstance(axis, Py) and axis.value is None) else {"dim": axis}
        if isinstance(keep, Py) and keep.value:
            kw["keepdim"] = Py(True)
        return _translated(ev, short, ev.term_call(_REDUCE[name], [], kw, method_of=x))
    if name == "matmul":
        a, b = _arg(args, kwargs, 0, "a"), _arg(args, kwargs, 1, "b")
        if isinstance(kwargs.get("transpose_b"), Py) and kwargs["transpose_b"].value:
            b = Term(ast.Attribute(ev.tensor_term(b), "mT", ast.Load()))
        if isinstance(kwargs.get("transpose_a"), Py) and kwargs["transpose_a"].value:
            a = Term(ast.Attribute(ev.tensor_term(a), "mT", ast.Load()))
        return _translated(ev, short, ev.term_call("torch.matmul", [a, b], {}))
    if name == "softmax":
        x = _arg(args, kwargs, 0, "logits")
        axis = _arg(args, kwargs, 1, "axis", Size.of(-1))
        return _translated(ev, short, ev.term_call("torch.softmax", [x], {"dim": axis}, keeps_shape=True))
    if name in ("constant", "convert_to_tensor", "Variable"):
        raise NotUnderstood(f"{short}(…) makes a tensor from literal data; the pipeline starts from one random input")
    if name in ("function", "GradientTape", "device", "print"):
        ev.effect(f"{short}: no tensor effect")
        from core.code_import.values import Opaque

        return Opaque(short)
    raise NotUnderstood(f"{short}(…) has no torch translation here")


_GENERIC = {
    "tf.reshape": "tf.reshape(x, shape) → x.reshape(shape)",
    "tf.transpose": "tf.transpose(x, perm) → x.permute(perm)",
    "tf.cast": "tf.cast(x, dtype) → x.to(dtype)",
    "tf.concat": "tf.concat(values, axis) → torch.cat(values, dim=axis)",
    "tf.stack": "tf.stack(values, axis) → torch.stack(values, dim=axis)",
    "tf.expand_dims": "tf.expand_dims(x, axis) → x.unsqueeze(axis)",
    "tf.squeeze": "tf.squeeze(x, axis) → x.squeeze(axis)",
    "tf.reduce_mean": "tf.reduce_mean(x, axis) → x.mean(dim=axis)",
    "tf.reduce_sum": "tf.reduce_sum(x, axis) → x.sum(dim=axis)",
    "tf.reduce_max": "tf.reduce_max(x, axis) → x.amax(dim=axis)",
    "tf.reduce_min": "tf.reduce_min(x, axis) → x.amin(dim=axis)",
    "tf.matmul": "tf.matmul(a, b) → torch.matmul(a, b)",
    "tf.nn.softmax": "tf.nn.softmax(x, axis) → torch.softmax(x, dim=axis)",
}


def _translated(ev: Any, short: str, term: Term) -> Term:
    key = short if short in _GENERIC else "tf." + short.rsplit(".", 1)[-1]
    note = "translated: " + _GENERIC.get(key, f"{short}(…) → its torch twin")
    ev.note(note)
    return Term(term.term, term.fallback, term.note, translated=note)


def _rank(ev: Any, x: Any) -> int | None:
    from core.code_import.values import Tensor

    if isinstance(x, Tensor):
        op = ev.graph.op_of(x.vid)
        if op.kind == "source" and op.shape:
            return len(op.shape)
        if op.kind == "hidden":
            return 3
    return None


def _pad(ev: Any, short: str, args: list[Any], kwargs: dict[str, Any]) -> Term:
    x, paddings = _arg(args, kwargs, 0, "tensor"), _arg(args, kwargs, 1, "paddings")
    mode = _arg(args, kwargs, 2, "mode", Py("CONSTANT"))
    value = _arg(args, kwargs, 3, "constant_values")
    if not isinstance(paddings, Seq) or not all(isinstance(p, Seq) and len(p.items) == 2 for p in paddings.items):
        raise NotUnderstood("tf.pad needs its paddings written out: one [before, after] pair per axis")
    mode_name = str(mode.value).upper() if isinstance(mode, Py) else ""
    if mode_name not in ("CONSTANT", "REFLECT"):
        raise NotUnderstood(f"tf.pad mode {mode_name or describe(mode)} has no faithful torch equivalent")
    pairs = [p.items for p in paddings.items]
    flat: list[Any] = []
    for before, after in reversed(pairs):  # F.pad lists the last axis first
        flat.extend((before, after))
    while len(flat) > 2 and all(isinstance(v, Size) and v.value == 0 for v in flat[-2:]):
        flat = flat[:-2]
    kw: dict[str, Any] = {}
    if mode_name == "REFLECT":
        kw["mode"] = Py("reflect")
    if value is not None and not (isinstance(value, Size) and value.value == 0):
        kw["value"] = value
    term = ev.term_call("F.pad", [x, Seq(tuple(flat))], kw)
    note = (
        "translated: tf.pad(x, [[before, after] per axis]) → F.pad(x, (before, after of the last axis, then the "
        "axis before it, …)): F.pad lists the axes from the last one backwards; trailing zero pairs are left out"
    )
    ev.note(note)
    return Term(term.term, translated=note)


def _cast(ev: Any, short: str, x: Any, dtype: Any) -> Any:
    dname = dtype.path.rsplit(".", 1)[-1] if isinstance(dtype, Func) else ""
    if dname not in TF_DTYPES:
        raise NotUnderstood(f"tf.cast to {describe(dtype)} has no torch translation here")
    if isinstance(x, Size):
        if dname.startswith(("int", "uint")):
            result = ev._number("int", [x])
            ev.note(f"translated: {short}(a / b, tf.{dname}) of sizes → a // b (the same for sizes ≥ 0)")
            return result
        return ev._number("float", [x])
    if ev.is_tensor(x):
        from core.code_import.values import Dtype

        return _translated(ev, short, ev.term_call("to", [Dtype(TF_DTYPES[dname])], {}, keeps_shape=True,
                                                   method_of=x))  # fmt: skip
    raise NotUnderstood(f"tf.cast of {describe(x)} is not understood")


# ------------------------------------------------------------------------------------------ Keras


def _keras(ev: Any, path: str, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    label = f"tf.keras.layers.{name}"
    if name == "Flatten":
        ev.note(f"{label}() → x.flatten(1): Keras keeps the batch axis")
        ev.effect(f"builds {label} (translated: x.flatten(1))")
        return Passer(label, ".flatten", (Size.of(1),), keeps_shape=False, line=ev.line)
    if name == "Dropout":
        ev.effect(f"builds {label} (identity at inference)")
        return Passer(label, "", identity=True, line=ev.line)
    if name == "Sequential":
        items = ev.iterate(args[0]) if args else []
        return Sequential(tuple(items), ev.line)
    if name == "Dense":
        units = _arg(args, kwargs, 0, "units")
        layer = ev.build_layer(LayerKind.LINEAR, [], {"out_features": units}, f"{label}→nn.Linear")
        layer.notes.append(f"{label}(units) → nn.Linear(in_features inferred, out_features=units)")
        activation = kwargs.get("activation")
        if isinstance(activation, Py) and activation.value not in (None, "linear"):
            act = str(activation.value)
            fn = {"relu": "F.relu", "tanh": "torch.tanh", "sigmoid": "torch.sigmoid", "softmax": "torch.softmax",
                  "gelu": "F.gelu"}.get(act)  # fmt: skip
            if fn is None:
                raise NotUnderstood(f"Dense activation {act!r} has no translation here")
            kw = (("dim", Size.of(-1)),) if act == "softmax" else ()
            return Sequential((layer, Passer(f"activation {act}", fn, (), kw, line=ev.line)), ev.line)
        return layer
    if name in ("LSTM", "GRU"):
        units = _arg(args, kwargs, 0, "units")
        kind = LayerKind.LSTM if name == "LSTM" else LayerKind.GRU
        layer = ev.build_layer(kind, [], {"hidden_size": units, "batch_first": Py(True)}, f"{label}→nn.{name}")
        seqs = kwargs.get("return_sequences")
        every = isinstance(seqs, Py) and seqs.value is True
        if isinstance(kwargs.get("return_state"), Py) and kwargs["return_state"].value:
            raise NotUnderstood("return_state=True has no direct translation: in torch the states come with the output")
        note = f"{label}(units) → nn.{name}(hidden_size=units, batch_first=True)" + (
            "" if every else " then x[:, -1, :] (return_sequences=False keeps the last step)"
        )
        layer.notes.append(note)

        def apply(ev2: Any, a: list[Any], k: dict[str, Any]) -> Any:
            out = ev2.layer_call(layer, a[:1], {})
            first = out.items[0]
            if every:
                return first
            last = ast.Tuple([ast.Slice(), ast.UnaryOp(ast.USub(), ast.Constant(1)), ast.Slice()], ast.Load())
            return Term(ast.Subscript(ev2.tensor_term(first), last, ast.Load()))

        return Applied(label, apply, ev.line)
    if name == "Conv1D":
        filters, kernel = _arg(args, kwargs, 0, "filters"), _arg(args, kwargs, 1, "kernel_size")
        params = {"out_channels": filters, "kernel_size": kernel}
        padding = kwargs.get("padding")
        if isinstance(padding, Py) and padding.value in ("same", "valid"):
            params["padding"] = padding
        if "strides" in kwargs:
            params["stride"] = kwargs["strides"]
        layer = ev.build_layer(LayerKind.CONV1D, [], params, f"{label}→nn.Conv1d")
        layer.notes.append(f"{label} is channels-last: x.transpose(1, 2) → nn.Conv1d → x.transpose(1, 2)")

        def apply_conv(ev2: Any, a: list[Any], k: dict[str, Any]) -> Any:
            x = ev2.as_tensor(ev2.term_call("transpose", [Size.of(1), Size.of(2)], {}, method_of=a[0]))
            y = ev2.layer_call(layer, [x], {})
            return ev2.term_call("transpose", [Size.of(1), Size.of(2)], {}, method_of=y)

        return Applied(label, apply_conv, ev.line)
    if name in ("Input", "Model", "Bidirectional", "Embedding", "TimeDistributed"):
        raise NotUnderstood(f"{label} has no translation here; write the torch layers, or paste the tensor steps")
    raise NotUnderstood(f"{label} has no torch translation here")


def reshape_args(shape: Any) -> list[Any]:
    if isinstance(shape, Seq):
        return list(shape.items)
    if isinstance(shape, ShapeOf):
        return [shape]
    return [shape]
