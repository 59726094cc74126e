"""torch.nn modules in pasted code: the layers a layer step runs, modules that apply a function, Sequential.

``nn.LSTM`` / ``nn.GRU`` / ``nn.Conv1d`` / ``nn.Linear`` become ``Layer`` records with their parameters
mapped in torch's positional order (``core.code_import.torch_api.LAYER_ORDER``); calling one makes a layer
op. ``nn.ReLU``, ``nn.Flatten``, ``nn.Softmax``… apply a function (a term the engine checks);
``nn.Dropout`` and ``nn.Identity`` do nothing at inference; ``nn.Sequential`` calls its items in order.
"""

from __future__ import annotations

import ast
from typing import Any

import core.code_import.torch_api as api
from core.code_import.evaluate import Evaluator
from core.code_import.scope import concrete_int, describe
from core.code_import.values import (
    Layer,
    Loss,
    ModuleList,
    NotUnderstood,
    Opaque,
    Passer,
    Py,
    Seq,
    Sequential,
    Size,
    Tensor,
)
from core.spec import FOREIGN_PARAMS, INPUT_PARAM, LAYER_PARAMS, LayerKind


class NNModules(Evaluator):
    """Building and calling torch.nn modules (the term building comes from ``Caller``)."""

    def term_call(
        self, spelling: str, args: list[Any], kwargs: dict[str, Any], keeps_shape: bool = False, method_of: Any = None
    ) -> Any:
        raise NotImplementedError  # core.code_import.calls.Caller

    def nn_module(self, cls: str, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        if cls in api.LAYER_CLASSES:
            layer = self.build_layer(api.LAYER_CLASSES[cls], args, kwargs, f"nn.{cls}")
            layer.node = node if isinstance(node, ast.Call) else None
            layer.positional = api.LAYER_ORDER[layer.kind][: len(args)]
            return layer
        if cls in api.IDENTITY_MODULES:
            return Passer(f"nn.{cls}", "", identity=True, line=self.line)
        if cls in api.UNCHECKED_MODULES:
            return Passer(f"nn.{cls}", "", identity=True, keeps_shape=True, line=self.line)
        if cls in api.APPLY_MODULES:
            fn, names, keeps = api.APPLY_MODULES[cls]
            given = dict(zip(names, args))
            given.update({k: v for k, v in kwargs.items() if k in names})
            for k, v in api.APPLY_DEFAULTS.get(cls, {}).items():
                given.setdefault(k, Size.of(v) if isinstance(v, int) else Py(v))
            if cls == "LayerNorm":
                shape = given.get("normalized_shape")
                if isinstance(shape, Size):
                    given["normalized_shape"] = Seq((shape,))
            pos = tuple(given[n] for n in names if n in given)
            if cls in ("Softmax", "LogSoftmax"):
                return Passer(f"nn.{cls}", fn, (), tuple(("dim", v) for v in pos), keeps_shape=keeps, line=self.line)
            return Passer(f"nn.{cls}", fn, pos, (), keeps_shape=keeps, line=self.line)
        if cls == "Sequential":
            return Sequential(tuple(args), self.line)
        if cls == "ModuleList":
            return ModuleList(list(self.iterate(args[0])) if args else [], self.line)
        if cls in api.LOSSES:
            return Loss(cls, dict(kwargs), self.line)
        if cls == "Module":
            return Opaque("nn.Module")
        if cls == "RNN":
            raise NotUnderstood("nn.RNN is not a layer step here; LSTM and GRU are")
        if cls == "Embedding":
            raise NotUnderstood("nn.Embedding is not a step here: the encoder embeds the tokens")
        raise NotUnderstood(f"nn.{cls} is not a layer the app runs (it runs LSTM, GRU, Conv1d, Linear)")

    def build_layer(self, kind: LayerKind, args: list[Any], kwargs: dict[str, Any], label: str) -> Layer:
        order = api.LAYER_ORDER[kind]
        if len(args) > len(order):
            raise NotUnderstood(f"{label} takes at most {len(order)} positional arguments")
        given = dict(zip(order, args))
        for k, v in kwargs.items():
            if k in given:
                raise NotUnderstood(f"{label} got `{k}` twice")
            given[k] = v
        params: dict[str, Any] = {}
        layer = Layer(kind, params, self.line, label)
        for k, v in given.items():
            if k in api.LAYER_IGNORED:
                continue
            if k not in LAYER_PARAMS[kind] and k not in FOREIGN_PARAMS:
                raise NotUnderstood(
                    f"{label} has no parameter `{k}` (torch: __init__() got an unexpected keyword argument '{k}')"
                )
            if isinstance(v, Py) and (v.value is None or isinstance(v.value, bool | str)):
                params[k] = v.value
            elif isinstance(v, Seq) and len(v.items) == 1:  # kernel_size=(3,)
                params[k] = concrete_int(v.items[0], f"`{k}`")
            elif isinstance(v, Size) and isinstance(v.value, float) and k == "dropout":
                params[k] = v.value
            elif isinstance(v, Size) and v.value is None and k == INPUT_PARAM[kind]:
                layer.notes.append(f"`{k}` depends on a runtime shape: left out, the app infers it from the input")
            else:
                params[k] = concrete_int(v, f"`{k}` of {label}")
        if self.pending_seed is not None:
            layer.seed = self.pending_seed
            self.pending_seed = None
        self.effect(f"builds {label}")
        return layer

    def layer_call(self, layer: Layer, args: list[Any], kwargs: dict[str, Any]) -> Any:
        x = args[0] if args else kwargs.get("input")
        if x is None or not self.is_tensor(x):
            raise NotUnderstood(f"{layer.label} is called with {describe(x)}, not a tensor")
        x_t = self.as_tensor(x)
        hx = args[1] if len(args) > 1 else kwargs.get("hx")
        h0 = c0 = None
        if hx is not None and not (isinstance(hx, Py) and hx.value is None):
            if layer.kind is LayerKind.LSTM:
                if not isinstance(hx, Seq) or len(hx.items) != 2:
                    raise NotUnderstood("an LSTM's initial state is a pair (h0, c0)")
                h0, c0 = (self.tensor_term(v) for v in hx.items)  # kept as terms: the step's "h0" / "c0"
            elif layer.kind is LayerKind.GRU:
                h0 = self.tensor_term(hx)
            else:
                raise NotUnderstood(f"{layer.label} takes one input")
        op = self.graph.add_layer(layer, x_t.vid, self.line, self.record, h0, c0)
        outs = [Tensor(v) for v in op.outs]
        for note in layer.notes:
            self.note(note)
        if layer.kind is LayerKind.LSTM:
            return Seq((outs[0], Seq((outs[1], outs[2]))))
        if layer.kind is LayerKind.GRU:
            return Seq((outs[0], outs[1]))
        return outs[0]

    def passer_call(self, p: Passer, args: list[Any], kwargs: dict[str, Any]) -> Any:
        x = args[0] if args else None
        if x is None or not self.is_tensor(x):
            raise NotUnderstood(f"{p.label} is called with {describe(x)}, not a tensor")
        if p.identity:
            what = "identity at inference (model.eval())" if "Dropout" in p.label or "Identity" in p.label else (
                "not run here (its statistics are not part of the pipeline)")  # fmt: skip
            self.note(f"{p.label}: {what}; the shape is unchanged")
            return x
        extra = dict(p.kwargs)
        if p.fn.startswith("."):
            return self.term_call(p.fn[1:], list(p.args), extra, keeps_shape=p.keeps_shape, method_of=x)
        return self.term_call(p.fn, [x, *p.args], extra, keeps_shape=p.keeps_shape)
