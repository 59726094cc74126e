"""The Spec: one pipeline as data (JSON contract shared by the CLI, share links and lessons).

Example:
    >>> spec = Spec.from_dict({"shape": [32, 128, 768], "steps": ["x.permute(0, 2, 1)"]})
    >>> spec.source_shape
    (32, 128, 768)
"""

from __future__ import annotations

import ast
import json
import keyword
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.errors import SpecError
from core.loss_step import LOSS_KEY, LossKind, LossStep, SyntheticTarget, labels_json, parse_labels, parse_loss_step

DEFAULT_CHECKPOINT = "bundled:all-MiniLM-L6-v2"
MAX_TEXTS = 64
MAX_TEXT_CHARS = 100_000
MAX_STEPS = 32
MAX_SOURCE_NUMEL = 2**26
MAX_LENGTH_LIMIT = 512
# a BERT tokenizer adds [CLS] and [SEP]: below 2 it cannot truncate at all (a long text then overflows the
# position limit, a short one seems cut)
MIN_MAX_LENGTH = 2
# the integer settings' ranges (inclusive); layer counts from the end with negatives, as hidden_states[-1]
SETTING_RANGES = {"max_length": (MIN_MAX_LENGTH, MAX_LENGTH_LIMIT), "layer": (-64, 64), "seed": (0, 2**31 - 1)}


class Pooling(StrEnum):
    """How token vectors become one vector per text (all masked by the attention mask)."""

    NONE = "none"
    CLS = "cls"
    MEAN = "mean"
    MAX = "max"
    POOLER = "pooler"
    LAST4_CONCAT = "last4_concat"
    LAST4_SUM = "last4_sum"
    FIRST_LAST_AVG = "first_last_avg"

    @classmethod
    def parse(cls, value: str) -> Pooling:
        try:
            return cls(str(value).lower())
        except ValueError:
            names = ", ".join(p.value for p in cls)
            raise SpecError(f"unknown pooling {value!r}; choose one of: {names}") from None


class LayerKind(StrEnum):
    """Layer steps; parameters are named exactly as the torch.nn constructor."""

    LSTM = "lstm"
    GRU = "gru"
    CONV1D = "conv1d"
    LINEAR = "linear"


# torch.nn constructor parameters accepted per layer (values: allowed Python types).
LAYER_PARAMS: dict[LayerKind, dict[str, tuple[type, ...]]] = {
    LayerKind.LSTM: {
        "input_size": (int,),
        "hidden_size": (int,),
        "num_layers": (int,),
        "bias": (bool,),
        "batch_first": (bool,),
        "dropout": (float, int),
        "bidirectional": (bool,),
        "proj_size": (int,),
    },
    LayerKind.CONV1D: {
        "in_channels": (int,),
        "out_channels": (int,),
        "kernel_size": (int,),
        "stride": (int,),
        "padding": (int, str),
        "dilation": (int,),
        "groups": (int,),
        "bias": (bool,),
        "padding_mode": (str,),
    },
    LayerKind.LINEAR: {"in_features": (int,), "out_features": (int,), "bias": (bool,)},
}
LAYER_PARAMS[LayerKind.GRU] = {k: v for k, v in LAYER_PARAMS[LayerKind.LSTM].items() if k != "proj_size"}
# the torch.nn class of each layer kind
TORCH_NAMES = {LayerKind.LSTM: "LSTM", LayerKind.GRU: "GRU", LayerKind.CONV1D: "Conv1d", LayerKind.LINEAR: "Linear"}
REQUIRED_PARAMS = {
    LayerKind.LSTM: ("hidden_size",),
    LayerKind.GRU: ("hidden_size",),
    LayerKind.CONV1D: ("out_channels", "kernel_size"),
    LayerKind.LINEAR: ("out_features",),
}
# Keras-style arguments people carry over; accepted by the spec so the step fails like torch does
# (TypeError "unexpected keyword argument") and the diagnosis can explain it.
FOREIGN_PARAMS = frozenset(
    {"return_sequences", "return_state", "units", "activation", "filters", "input_shape", "input_dim"}
)
# the input-size parameter each layer infers from the incoming tensor when omitted
INPUT_PARAM = {
    LayerKind.LSTM: "input_size",
    LayerKind.GRU: "input_size",
    LayerKind.CONV1D: "in_channels",
    LayerKind.LINEAR: "in_features",
}


# sibling keys of a layer step: which name it reads, which names it binds, initial states (LSTM / GRU)
LAYER_KEYS = ("input", "output", "h0", "c0")
MAX_STATE_CHARS = 500


@dataclass(frozen=True)
class LayerStep:
    """A layer step: ``{"lstm": {"hidden_size": 128, "batch_first": true}}``, optionally with sibling keys.

    input: the name it reads (default ``x``); output: the names it binds, written as Python targets --
    ``"out"``, ``"out, (h_n, c_n)"`` (LSTM), ``"out, h_n"`` (GRU); None: the output becomes ``x`` and
    ``h_n`` / ``c_n`` are bound. h0 / c0: expressions for the initial states (LSTM / GRU), e.g.
    ``"torch.zeros(2, x.size(0), 128)"``, evaluated in the names bound so far.
    """

    kind: LayerKind
    params: dict[str, Any]
    input: str = "x"
    output: str | None = None
    h0: str | None = None
    c0: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {self.kind.value: dict(self.params)}
        if self.input != "x":
            out["input"] = self.input
        for key in ("output", "h0", "c0"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    @property
    def label(self) -> str:
        return self.kind.value

    @property
    def targets(self) -> Any:
        """The output names as a nested tuple (``("out", ("h_n", "c_n"))``), or None for the default."""
        return None if self.output is None else _targets(self.output, "")

    @property
    def names(self) -> tuple[str, ...]:
        """The names this step binds: ``("x", "h_n", "c_n")`` by default for an LSTM."""
        if self.output is None:
            extra = {LayerKind.LSTM: ("h_n", "c_n"), LayerKind.GRU: ("h_n",)}.get(self.kind, ())
            return ("x", *extra)
        return tuple(n for n in _flat_names(self.targets) if n != "_")


Step = str | LayerStep | LossStep
SPEC_KEYS = {"texts", "shape", "checkpoint", "max_length", "layer", "pooling", "steps", "seed", "title", "labels"}
__all__ = ["LossKind", "LossStep", "SyntheticTarget"]  # the loss step's contract (core.loss_step), re-exported


@dataclass(frozen=True)
class Spec:
    """One pipeline. Exactly one of ``texts`` (real model input) or ``shape`` (synthetic tensor)."""

    texts: tuple[str, ...] | None = None
    shape: tuple[int, ...] | None = None
    checkpoint: str = DEFAULT_CHECKPOINT
    max_length: int | None = 128
    layer: int = -1
    pooling: Pooling = Pooling.NONE
    steps: tuple[Step, ...] = ()
    seed: int = 0
    title: str = ""
    labels: tuple[Any, ...] | None = None  # one entry per text: class id, multi-hot row, float(s) (core.loss_step)
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def source_shape(self) -> tuple[int, ...] | None:
        return self.shape

    @property
    def uses_model(self) -> bool:
        return self.texts is not None

    # --- (de)serialisation -------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any) -> Spec:
        if not isinstance(data, dict):
            raise SpecError(f"a spec is a JSON object, got {type(data).__name__}")
        unknown = set(data) - SPEC_KEYS
        if unknown:
            raise SpecError(
                f"unknown spec key(s): {', '.join(sorted(map(str, unknown)))}; allowed: {', '.join(sorted(SPEC_KEYS))}"
            )
        has_texts, has_shape = data.get("texts") is not None, data.get("shape") is not None
        if has_texts == has_shape:
            raise SpecError(
                "a spec needs exactly one of 'texts' (run the real model) or 'shape' (synthetic tensor)"
                + ("; it has both" if has_texts else "; it has neither")
            )
        texts = _texts(data["texts"]) if has_texts else None
        shape = _shape(data["shape"]) if has_shape else None
        steps_raw = data.get("steps", [])
        if not isinstance(steps_raw, list):
            raise SpecError("'steps' must be a list of expressions (strings) or layer objects")
        if len(steps_raw) > MAX_STEPS:
            raise SpecError(f"too many steps ({len(steps_raw)}); the limit is {MAX_STEPS}")
        max_length = data.get("max_length", 128)
        if max_length is not None:
            if isinstance(max_length, int) and not isinstance(max_length, bool) and 0 <= max_length < MIN_MAX_LENGTH:
                raise SpecError(
                    f"'max_length' = {max_length} is too small: BERT's tokenizer always adds its 2 special tokens "
                    f"([CLS] and [SEP]); use {MIN_MAX_LENGTH}..{MAX_LENGTH_LIMIT}"
                )
            max_length = _int(max_length, "max_length", *SETTING_RANGES["max_length"])
        checkpoint = data.get("checkpoint") or DEFAULT_CHECKPOINT
        if not isinstance(checkpoint, str) or len(checkpoint) > 300:
            raise SpecError("'checkpoint' must be a string (at most 300 characters)")
        title = data.get("title", "")
        if not isinstance(title, str):
            raise SpecError("'title' must be a string")
        return cls(
            texts=texts,
            shape=shape,
            checkpoint=checkpoint.strip(),
            max_length=max_length,
            layer=_int(data.get("layer", -1), "layer", *SETTING_RANGES["layer"]),
            pooling=Pooling.parse(data.get("pooling", "none")),
            steps=(steps := tuple(parse_step(s, i) for i, s in enumerate(steps_raw))),
            seed=_int(data.get("seed", 0), "seed", *SETTING_RANGES["seed"]),
            title=title[:200],
            labels=_labels(data.get("labels"), texts, shape, steps),
        )

    @classmethod
    def from_json(cls, text: str) -> Spec:
        return cls.from_dict(load_json(text, "the spec"))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.title:
            out["title"] = self.title
        if self.texts is not None:
            out["texts"] = list(self.texts)
        else:
            out["shape"] = list(self.shape or ())
        if self.texts is not None:
            out["checkpoint"] = self.checkpoint
            out["max_length"] = self.max_length
            out["layer"] = self.layer
            out["pooling"] = self.pooling.value
        elif self.pooling is not Pooling.NONE:  # a synthetic source pools too (cls / mean / max)
            out["pooling"] = self.pooling.value
        if self.labels is not None:
            out["labels"] = labels_json(self.labels)
        out["steps"] = [s if isinstance(s, str) else s.to_json() for s in self.steps]
        out["seed"] = self.seed
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def replace(self, **changes: Any) -> Spec:
        data = self.to_dict()
        data.update(changes)
        return Spec.from_dict(data)


def load_json(text: str, what: str = "the spec") -> Any:
    """``json.loads`` for text from outside, every failure a SpecError naming ``what``.

    Beyond malformed JSON: nesting too deep (RecursionError), an integer of more than 4,300 digits (Python's
    int-conversion limit raises ValueError) and the non-JSON constants NaN / Infinity (Python accepts them).
    """

    def constant(name: str) -> Any:
        raise SpecError(f"{what} is not valid JSON: {name} is not a JSON number")

    try:
        return json.loads(text, parse_constant=constant)
    except json.JSONDecodeError as e:
        raise SpecError(f"{what} is not valid JSON: {e}") from None
    except RecursionError:
        raise SpecError(f"{what} is not valid JSON: it is nested too deeply") from None
    except SpecError:
        raise
    except ValueError as e:  # "Exceeds the limit (4300 digits) for integer string conversion"
        if "digits" in str(e):
            raise SpecError(f"{what} holds an integer with more than 4,300 digits; no size is that large") from None
        raise SpecError(f"{what} is not valid JSON: {e}") from None


def step_source(step: Step) -> str:
    """Human text of a step: the expression itself, or the nn constructor call (with its call when the step
    reads or binds other names: ``out, (h, c) = nn.LSTM(hidden_size=64)(x, (h0, c0))``); a loss step as
    ``loss = nn.CrossEntropyLoss()(x, labels)``."""
    if isinstance(step, str):
        return step
    if isinstance(step, LossStep):
        return step.source
    args = ", ".join(f"{k}={v!r}" for k, v in step.params.items())
    ctor = f"nn.{TORCH_NAMES[step.kind]}({args})"
    if step.input == "x" and step.output is None and step.h0 is None:
        return ctor
    state = ""
    if step.h0 is not None:
        state = f", ({step.h0}, {step.c0})" if step.c0 is not None else f", {step.h0}"
    target = step.output if step.output is not None else "x"
    return f"{target} = {ctor}({step.input}{state})"


def _flat_names(t: Any) -> list[str]:
    return [t] if isinstance(t, str) else [n for item in t for n in _flat_names(item)]


def _name_ok(name: str) -> bool:
    return name == "_" or (name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_"))


def _targets(text: str, where: str) -> Any:
    """``"out, (h, c)"`` -> ``("out", ("h", "c"))``; raises SpecError for anything but names and tuples."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        raise SpecError(f'{where}\'output\' must be names such as "out" or "out, (h_n, c_n)", got {text!r}') from None

    def walk(n: ast.AST, depth: int) -> Any:
        if isinstance(n, ast.Name) and _name_ok(n.id):
            return n.id
        if isinstance(n, ast.Tuple) and depth < 2 and 1 <= len(n.elts) <= 4:
            return tuple(walk(e, depth + 1) for e in n.elts)
        raise SpecError(f'{where}\'output\' must be names such as "out" or "out, (h_n, c_n)", got {text!r}')

    return walk(node, 0)


def _layer_siblings(kind: LayerKind, raw: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_STATE_CHARS:
            raise SpecError(f"{where}: '{key}' must be a non-empty string of at most {MAX_STATE_CHARS} characters")
        out[key] = value.strip()
    if "input" in out and not (_name_ok(out["input"]) and out["input"] != "_"):
        raise SpecError(f'{where}: \'input\' must be a name such as "x" or "out", got {out["input"]!r}')
    if "output" in out:
        t = _targets(out["output"], f"{where}: ")
        shapes = {LayerKind.LSTM: '"out" or "out, (h_n, c_n)"', LayerKind.GRU: '"out" or "out, h_n"'}
        ok = (
            isinstance(t, str)
            or (
                kind is LayerKind.LSTM
                and len(t) == 2
                and isinstance(t[0], str)
                and isinstance(t[1], tuple)
                and len(t[1]) == 2
                and all(isinstance(n, str) for n in t[1])
            )
            or (kind is LayerKind.GRU and len(t) == 2 and all(isinstance(n, str) for n in t))
        )
        if not ok:
            raise SpecError(
                f"{where}: 'output' of {kind.value} must be {shapes.get(kind, 'one name')}, got {out['output']!r}"
            )
    if ("h0" in out or "c0" in out) and kind not in (LayerKind.LSTM, LayerKind.GRU):
        raise SpecError(f"{where}: 'h0' / 'c0' are initial states of an LSTM or GRU, not of {kind.value}")
    if kind is LayerKind.GRU and "c0" in out:
        raise SpecError(f"{where}: a GRU has no cell state; give 'h0' only")
    if kind is LayerKind.LSTM and ("h0" in out) != ("c0" in out):
        raise SpecError(f"{where}: an LSTM takes both initial states: give 'h0' and 'c0'")
    return out


def parse_step(raw: Any, index: int) -> Step:
    where = f"step {index + 1}"
    if isinstance(raw, str):
        if not raw.strip():
            raise SpecError(f"{where} is an empty expression")
        return raw.strip()
    if isinstance(raw, LayerStep | LossStep):
        return raw
    if isinstance(raw, dict) and LOSS_KEY in raw:
        return parse_loss_step(raw, where)
    layer_keys = [k for k in raw if k not in LAYER_KEYS] if isinstance(raw, dict) else []
    if not isinstance(raw, dict) or len(layer_keys) != 1:
        raise SpecError(
            f"{where} must be an expression string or an object with one key "
            f"({', '.join(k.value for k in LayerKind)}) and optionally {', '.join(LAYER_KEYS)}, "
            f"got {json.dumps(raw)[:80]}"
        )
    key = layer_keys[0]
    params = raw[key]
    try:
        kind = LayerKind(str(key).lower())
    except ValueError:
        raise SpecError(
            f"{where}: unknown layer {key!r}; choose one of: {', '.join(k.value for k in LayerKind)}"
        ) from None
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise SpecError(f"{where}: parameters of {kind.value} must be an object")
    allowed = LAYER_PARAMS[kind]
    clean: dict[str, Any] = {}
    for name, value in params.items():
        if name in FOREIGN_PARAMS:
            # kept so the step fails the way torch does, then gets explained; plain values only
            if not (value is None or isinstance(value, bool | int | float) or _plain_word(value)):
                raise SpecError(f"{where}: {kind.value}.{name} must be a plain value, got {json.dumps(value)[:60]}")
            clean[name] = value
            continue
        if name not in allowed:
            raise SpecError(
                f"{where}: {kind.value} has no parameter {name!r}; torch.nn parameters are: {', '.join(allowed)}"
            )
        types = allowed[name]
        if isinstance(value, bool) and bool not in types:
            raise SpecError(f"{where}: {kind.value}.{name} must be {types[0].__name__}, got {value!r}")
        if not isinstance(value, types):
            raise SpecError(f"{where}: {kind.value}.{name} must be {types[0].__name__}, got {value!r}")
        if isinstance(value, int) and not isinstance(value, bool) and not (0 <= value <= 1_000_000):
            raise SpecError(f"{where}: {kind.value}.{name}={value} is out of range (0..1,000,000)")
        if isinstance(value, float) and not (0.0 <= value <= 1.0):
            raise SpecError(f"{where}: {kind.value}.{name}={value} is out of range (0..1)")
        clean[name] = value
    missing = [p for p in REQUIRED_PARAMS[kind] if p not in clean]
    if missing:
        raise SpecError(f"{where}: {kind.value} needs {', '.join(missing)}")
    siblings = _layer_siblings(kind, {k: v for k, v in raw.items() if k in LAYER_KEYS}, where)
    return LayerStep(kind, clean, **siblings)


def _labels(raw: Any, texts: Any, shape: Any, steps: tuple[Step, ...]) -> tuple[Any, ...] | None:
    """The per-text labels (one per text, or per row of a synthetic source); a loss step that reads ``labels``
    needs them."""
    labels = None
    if raw is not None:
        rows, what = (len(texts), "text") if texts is not None else (shape[0], "row of the synthetic source")
        labels = parse_labels(raw, rows, what)
    for i, step in enumerate(steps):
        if isinstance(step, LossStep) and step.reads_labels and labels is None:
            raise SpecError(
                f'step {i + 1}: the loss reads `labels`, but the spec has none: add "labels" (one per text, e.g. '
                '[1, 0]) or give the loss a synthetic target, e.g. "target": {"shape": [2], "dtype": "long", "high": 2}'
            )
    return labels


def _plain_word(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 40 and all(c.isalnum() or c in "_-." for c in value)


def _int(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"'{name}' must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise SpecError(f"'{name}' = {value} is out of range ({lo}..{hi})")
    return value


def _texts(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise SpecError("'texts' must be a list of strings")
    if not raw:
        raise SpecError("'texts' is empty: give at least one text")
    if len(raw) > MAX_TEXTS:
        raise SpecError(f"too many texts ({len(raw)}); the limit is {MAX_TEXTS}")
    if any(len(t) > MAX_TEXT_CHARS for t in raw):
        raise SpecError(f"a text is longer than {MAX_TEXT_CHARS:,} characters")
    for i, t in enumerate(raw):
        try:
            t.encode("utf-8")
        except UnicodeEncodeError:
            raise SpecError(f"text {i + 1} is not valid Unicode (it holds a lone surrogate)") from None
    return tuple(raw)


def _shape(raw: Any) -> tuple[int, ...]:
    if not isinstance(raw, list) or not raw or len(raw) > 6:
        raise SpecError("'shape' must be a list of 1 to 6 positive integers, e.g. [32, 128, 768]")
    for d in raw:
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise SpecError(f"'shape' must hold positive integers, got {d!r}")
    numel = 1
    for d in raw:
        numel *= d
    if numel > MAX_SOURCE_NUMEL:
        raise SpecError(f"'shape' {raw} has {numel:,} elements; the limit is {MAX_SOURCE_NUMEL:,}")
    return tuple(raw)
