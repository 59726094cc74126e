"""Symbolic values of the importer: what a name of the pasted code holds, without running anything.

A tensor is never computed here. It is a ``Tensor`` (a value node of the ``Graph``: the source, a layer's
output, a step's result) or a ``Term`` — an expression over value nodes not yet made into a step, kept as
a fresh ``ast`` tree whose leaves name value nodes by placeholder (``_ref_3``). Sizes are ``Size``: an
``ast`` term (``x.shape[1] * x.shape[2] // 16``) plus its value when known. Everything else the code
builds (a tokenizer, a BERT model, an ``nn.LSTM``, an instance of the user's ``nn.Module``) has its own
record here.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from core.spec import LayerKind

REF = "_ref_"  # placeholder names of value nodes inside terms


def ref_name(vid: int) -> str:
    return f"{REF}{vid}"


def ref_node(vid: int) -> ast.Name:
    return ast.Name(id=ref_name(vid), ctx=ast.Load())


def refs_in(term: ast.AST) -> frozenset[int]:
    """The value nodes a term reads."""
    return frozenset(int(n.id[len(REF) :]) for n in ast.walk(term) if isinstance(n, ast.Name) and n.id.startswith(REF))


class NotUnderstood(Exception):
    """Raised while evaluating a statement the importer cannot map; the message is the line's reason."""


@dataclass(frozen=True)
class Unknown:
    """A value the importer could not follow (from a line not understood)."""

    reason: str
    line: int | None = None


@dataclass(frozen=True)
class Py:
    """A plain Python value: str, bool, None (numbers are ``Size``)."""

    value: Any


@dataclass(frozen=True)
class Size:
    """A number: its term (rendered into steps) and its value when known (``None``: depends on a shape)."""

    term: ast.expr
    value: int | float | None
    refs: frozenset[int] = frozenset()

    @staticmethod
    def of(value: int | float) -> Size:
        node: ast.expr = ast.Constant(value)
        if value < 0:
            node = ast.UnaryOp(ast.USub(), ast.Constant(-value))
        return Size(node, value)


@dataclass(frozen=True)
class ShapeOf:
    """``x.shape`` / ``x.size()`` / ``tf.shape(x)``, optionally sliced (``x.shape[:-1]``)."""

    vid: int
    term: ast.expr


@dataclass(frozen=True)
class Seq:
    items: tuple[Any, ...]
    kind: str = "tuple"  # tuple | list


@dataclass(frozen=True)
class DictV:
    items: tuple[tuple[str, Any], ...]

    def get(self, key: str) -> Any:
        return dict(self.items).get(key)


@dataclass(frozen=True)
class Tensor:
    """A value node of the graph."""

    vid: int


@dataclass(frozen=True)
class Term:
    """A tensor expression over value nodes, not yet a step.

    fallback: the term this one falls back to when the engine cannot run it and the op keeps the shape
    (``F.relu(x)`` → ``x``); note: what the fallback means for the user.
    """

    term: ast.expr
    fallback: ast.expr | None = None
    note: str = ""
    translated: str = ""


@dataclass(frozen=True)
class Namespace:
    """A module or namespace: ``torch``, ``torch.nn``, ``tensorflow``, ``transformers``…"""

    path: str


@dataclass(frozen=True)
class Func:
    """A library callable by its full path: ``torch.randn``, ``transformers.AutoModel.from_pretrained``."""

    path: str


@dataclass(frozen=True)
class Method:
    """``receiver.name`` waiting for its call."""

    receiver: Any
    name: str


@dataclass(eq=False)
class Layer:
    """A torch.nn layer the pipeline can run as a layer step (LSTM, GRU, Conv1d, Linear)."""

    kind: LayerKind
    params: dict[str, Any]
    line: int
    label: str
    notes: list[str] = field(default_factory=list)
    seed: int | None = None  # torch.manual_seed value set just before it was built
    node: ast.Call | None = None  # the constructor call in the code (code fixes edit its arguments)
    positional: tuple[str, ...] = ()  # the parameters given positionally, in order


@dataclass(eq=False)
class Passer:
    """A module that applies a function: ``nn.ReLU()``, ``nn.Dropout(0.1)``, ``nn.Flatten()``…

    fn: the function spelling applied to the input (``F.relu``, ``x.flatten``); args/kwargs: the extra
    arguments (values); identity: no effect at inference (dropout); keeps_shape: may fall back to a pass-through.
    """

    label: str
    fn: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    identity: bool = False
    keeps_shape: bool = True
    line: int = 0


@dataclass(eq=False)
class Sequential:
    items: tuple[Any, ...]
    line: int = 0


@dataclass(eq=False)
class ModuleList:
    items: list[Any]
    line: int = 0


@dataclass(eq=False)
class Loss:
    kind: str
    params: dict[str, Any]
    line: int = 0


@dataclass(eq=False)
class Model:
    """A Hugging Face encoder: the checkpoint the code names and whether it returns hidden states."""

    checkpoint: str | None
    hidden_states: bool
    line: int
    label: str = ""  # how the code built it


@dataclass(eq=False)
class Tokenizer:
    checkpoint: str | None
    line: int


@dataclass(eq=False)
class Encoding:
    """A tokenizer's output: the texts and the options that change the shape."""

    texts: tuple[str, ...]
    max_length: int | None
    line: int
    notes: tuple[str, ...] = ()


@dataclass(eq=False)
class Output:
    """A model's output (``last_hidden_state``, ``hidden_states``, ``pooler_output``)."""

    model: Model
    encoding: Encoding
    hidden_states: bool
    line: int
    as_tuple: bool = False


@dataclass(eq=False)
class HiddenStates:
    output: Output


@dataclass(eq=False)
class Config:
    """``model.config`` / ``BertConfig(...)``: the sizes it answers."""

    model: Model | None
    sizes: dict[str, int] = field(default_factory=dict)


@dataclass(eq=False)
class ClassV:
    node: ast.ClassDef
    scope: dict[str, Any]
    bases: tuple[Any, ...] = ()

    @property
    def name(self) -> str:
        return self.node.name

    def method(self, name: str) -> ast.FunctionDef | None:
        for item in self.node.body:
            if isinstance(item, ast.FunctionDef) and item.name == name:
                return item
        for base in self.bases:
            if isinstance(base, ClassV):
                found = base.method(name)
                if found is not None:
                    return found
        return None

    @property
    def is_module(self) -> bool:
        for base in self.bases:
            if isinstance(base, Func) and base.path in ("torch.nn.Module", "tensorflow.keras.Model"):
                return True
            if isinstance(base, ClassV) and base.is_module:
                return True
        return False


@dataclass(eq=False)
class Instance:
    cls: ClassV
    attrs: dict[str, Any] = field(default_factory=dict)
    line: int = 0


@dataclass(eq=False)
class FunctionV:
    node: ast.FunctionDef | ast.Lambda
    scope: dict[str, Any]
    self_value: Any = None  # the instance for a bound method


@dataclass(frozen=True)
class Dtype:
    """``torch.float32``…; ``of``: the value node whose dtype it is (``x.dtype``)."""

    name: str
    of: int | None = None


@dataclass(frozen=True)
class TypeInfo:
    """``torch.finfo(dtype)`` / ``torch.iinfo(dtype)``: its ``.min`` / ``.max`` / ``.eps``… are numbers."""

    kind: str  # finfo | iinfo
    dtype: Dtype


@dataclass(frozen=True)
class Opaque:
    """Something understood that carries no tensor: a device, an optimizer, a context manager."""

    what: str


@dataclass(eq=False)
class Applied:
    """A callable object translated from another framework (a Keras layer): ``fn(evaluator, args, kwargs)``."""

    label: str
    fn: Any
    line: int = 0


@dataclass(frozen=True)
class Labels:
    """``torch.tensor([...])`` of literal numbers; ``suffix``: methods applied after (``.view(-1)``)."""

    data: tuple[Any, ...]
    dtype: str = "long"
    suffix: str = ""


@dataclass(frozen=True)
class RandomTarget:
    """``torch.randint(0, high, shape)`` (``dtype`` float after ``.float()``)."""

    shape: tuple[int, ...]
    dtype: str = "long"
    high: int | None = 2
