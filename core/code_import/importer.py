"""Pasted Python → a Spec plus one note per statement (the public entry: ``import_code``).

    >>> result = import_code("import torch\\nx = torch.randn(32, 128, 768)\\ny = x.transpose(1, 2)\\n")
    >>> result.spec.to_dict()["steps"]            # (b, l, h) -> (b, h, l)
    ['x.transpose(1, 2)']
    >>> [(n.line, n.status.value) for n in result.lines]
    [(1, 'no tensor effect'), (2, 'stage'), (3, 'stage')]

The paste is parsed with ``ast`` (``core.code_import.guard``), walked without running anything
(``core.code_import.interpret``), and emitted as steps the engine's parser accepts (``core.code_import.emit``).
"""

from __future__ import annotations

import ast
import re
from typing import Any

from core.code_import.emit import Emitted, Emitter
from core.code_import.guard import check_size, comment_lines, normalize, parse_paste
from core.code_import.interpret import Interpreter, Record
from core.code_import.records import CodeImport, CodeRefused, LineNote, LineStatus, Span, StepSite
from core.errors import SpecError
from core.spec import Spec

_POOLING_WORDS = {
    "mean": "masked mean over the real tokens",
    "max": "masked max over the real tokens",
    "last4_concat": "masked mean of the last four layers concatenated",
    "last4_sum": "masked mean of the sum of the last four layers",
    "first_last_avg": "masked mean of the average of the first and the last layer",
    "pooler": "BERT's pooler output",
}


def import_code(source: str, checkpoint: str | None = None) -> CodeImport:
    """Read pasted code into a Spec; never runs it. ``checkpoint`` overrides the one the code names.

    Raises CodeRefused (a SpecError) when the paste itself is refused: over a size limit, not Python,
    nested too deeply. A paste with nothing to trace returns a CodeImport whose ``spec`` is None and
    whose ``problem`` says why.
    """
    check_size(source)  # before anything reads the text
    text, blanked = normalize(source)
    tree, refused = parse_paste(text)
    interp = Interpreter(tree, refused, checkpoint)
    interp.source_lines = text.split("\n")
    try:
        interp.run()
    except RecursionError:
        raise CodeRefused("the code nests calls too deeply to follow; nothing you paste is ever run") from None
    marks = frozenset(m.group(1) for m in re.finditer(r"(?m)^\s*#\s*pooling:\s*(\w+)", text))
    emitted = Emitter(interp, marks).run()
    spec = None
    problem = emitted.problem
    if emitted.spec is not None:
        try:
            spec = Spec.from_dict(emitted.spec)
        except SpecError as e:
            problem = f"the imported pipeline is not valid: {e}"
    lines = _line_notes(interp, emitted, tree, text, blanked)
    named = _named_checkpoint(interp)
    notes = _paste_notes(interp, emitted, spec)
    choices: tuple[tuple[str, str], ...] = ()
    if spec is not None and spec.uses_model:
        choices = interp.resolve(interp.outputs[0].model).choices
    step_lines = {i: op.line for i, op in enumerate(emitted.steps)}
    return CodeImport(
        source=source,
        spec=spec,
        lines=tuple(lines),
        checkpoint_named=named,
        checkpoint_choices=choices,
        notes=tuple(notes),
        framework=interp.framework,
        step_lines=step_lines,
        problem=problem if spec is None else "",
        step_names=dict(emitted.names),
        sites=_sites(interp, emitted) if text == source.replace("\r\n", "\n") else {},
        checkpoint_override=checkpoint,
    )


def _span(node: ast.AST, lines: list[str]) -> Span:
    """An ast node's span with character (not UTF-8 byte) columns."""

    def col(line: int, byte_col: int) -> int:
        return len(lines[line - 1].encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    end_line = node.end_lineno or node.lineno  # type: ignore[attr-defined]
    return (node.lineno, col(node.lineno, node.col_offset), end_line, col(end_line, node.end_col_offset or 0))  # type: ignore[attr-defined]


def _sites(interp: Interpreter, emitted: Emitted) -> dict[int, StepSite]:
    """Where every step is in the code (core.code_import.code_fix writes fixes there)."""
    lines = interp.source_lines
    out: dict[int, StepSite] = {}
    for i, op in enumerate(emitted.steps):
        if op is emitted.root or op.record is None:
            continue
        stmt = op.record.stmt
        mates = [o for o in emitted.steps if o.record is op.record and o is not emitted.root]
        value = None
        target = None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            value = stmt.value
            if isinstance(stmt.targets[0], ast.Name):
                target = stmt.targets[0].id
        elif isinstance(stmt, ast.Expr | ast.Return) and stmt.value is not None:
            value = stmt.value
        names = []
        for spec_name, vid in emitted.inputs.get(i, {}).items():
            user = interp.graph.values[vid].name_before(op.oid)
            if user is not None:
                names.append((spec_name, user))
        taken = {n for n, _ in names}
        names += [(n, user) for n, user in _builtin_names(interp, op.oid).items() if n not in taken]
        layer_args: list[tuple[str, Span, bool]] = []
        call = None
        if op.layer is not None and op.layer.node is not None:
            node = op.layer.node
            call = _span(node, lines)
            layer_args += [(p, _span(a, lines), False) for p, a in zip(op.layer.positional, node.args)]
            layer_args += [(k.arg, _span(k.value, lines), True) for k in node.keywords if k.arg]
        out[i] = StepSite(
            line=stmt.lineno,
            end_line=stmt.end_lineno or stmt.lineno,
            indent=stmt.col_offset,
            value=_span(value, lines) if value is not None and len(mates) == 1 else None,
            first=mates[0] is op,
            target=target,
            names=tuple(names),
            layer_args=tuple(layer_args),
            call=call,
        )
    return out


def _builtin_names(interp: Interpreter, oid: int) -> dict[str, str]:
    """The user's spelling of the pipeline's builtins (``mask``, ``attention_mask``, ``input_ids``, ``lengths``)
    as op ``oid`` reads them: the name the code bound (``m = batch["attention_mask"]``), else the tokenizer
    output's key (``batch['attention_mask']``)."""
    encoding = None
    for rec in interp.records.values():
        stmt = rec.stmt
        if rec.tokens and isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            encoding = stmt.targets[0].id
    out: dict[str, str] = {}
    for name in ("attention_mask", "input_ids", "lengths"):
        vid = interp.graph.builtins.get(name)
        user = interp.graph.values[vid].name_before(oid) if vid is not None else None
        if user is None and encoding is not None and name != "lengths":
            user = f"{encoding}[{name!r}]"
        if user is not None:
            out[name] = user
    if "attention_mask" in out:
        out["mask"] = out["attention_mask"]
    return out


def _named_checkpoint(interp: Interpreter) -> str | None:
    for model in interp.models:
        if model.checkpoint:
            return model.checkpoint
    return None


def _paste_notes(interp: Interpreter, emitted: Emitted, spec: Spec | None) -> list[str]:
    notes: list[str] = []
    if interp.framework == "TensorFlow":
        notes.append("TensorFlow code: each call is translated to its torch twin; the translated lines say how")
    if spec is not None and spec.uses_model:
        note = interp.resolve(interp.outputs[0].model).note
        if note:
            notes.append(note)
    if emitted.pooled is not None:
        words = _POOLING_WORDS.get(emitted.pooled.strategy, emitted.pooled.strategy)
        notes.append(f"the hand-written pooling is the app's pooling '{emitted.pooled.strategy}': {words}")
        if emitted.pooled.note:
            notes.append(emitted.pooled.note)
    if emitted.recognized is not None:
        found = emitted.recognized
        lines = sorted(interp.graph.ops[oid].line for oid in {*found.absorbed, interp.graph.op_of(found.vid).oid})
        words = _POOLING_WORDS.get(found.strategy, found.strategy)
        notes.append(
            f"lines {lines[0]}–{lines[-1]} are a {words}: the same as the app's pooling '{found.strategy}' "
            "(kept as steps so every line shows its shape)"
        )
    notes.extend(interp.notes)
    return notes


# ----------------------------------------------------------------------------------------- lines


def _line_notes(
    interp: Interpreter, emitted: Emitted, tree: ast.Module, text: str, blanked: dict[int, str]
) -> list[LineNote]:
    steps_of: dict[int, list[int]] = {}  # id(record) -> step indices of the ops made on its line
    for i, op in enumerate(emitted.steps):
        if op.record is not None and op is not emitted.root:
            steps_of.setdefault(id(op.record), []).append(i)
    fallback_notes: dict[int, list[str]] = {}
    for oid, note in emitted.passthrough_notes.items():
        op = interp.graph.ops[oid]
        fallback_notes.setdefault(id(op.record), []).append(note)
    out: list[LineNote] = []
    covered: set[int] = set()
    for stmt in (n for n in ast.walk(tree) if isinstance(n, ast.stmt)):
        rec = interp.record_of(stmt)
        note = _note(interp, emitted, rec, steps_of.get(id(rec), []), fallback_notes.get(id(rec), []))
        out.append(note)
        covered.update(range(note.line, note.end_line + 1))
    for line in comment_lines(text):
        if line not in covered:
            out.append(LineNote(line, line, LineStatus.NO_EFFECT, "a comment"))
    for line, reason in blanked.items():
        if line not in covered:
            out.append(LineNote(line, line, LineStatus.NO_EFFECT, reason))
    out.sort(key=lambda n: (n.line, n.end_line))
    return out


def _note(interp: Interpreter, emitted: Emitted, rec: Record, steps: list[int], fallbacks: list[str]) -> LineNote:
    graph = interp.graph
    notes = tuple(dict.fromkeys([*rec.notes, *fallbacks]))
    base = {"line": rec.line, "end_line": rec.end_line, "notes": notes}
    refs: tuple[int | str, ...] = tuple(steps)
    if rec.failure:
        return LineNote(status=LineStatus.NOT_UNDERSTOOD, reason=rec.failure, refs=refs, **base)
    if rec.vids:
        vid = _shown(interp, emitted, rec.vids)
        op = graph.op_of(vid)
        failed = emitted.failures.get(op.oid)
        if failed is not None:
            return LineNote(status=LineStatus.NOT_UNDERSTOOD, reason=failed, **base)
        ref = emitted.value_ref.get(vid)
        if ref is None:
            return LineNote(status=LineStatus.NOT_UNDERSTOOD, reason="this tensor is not part of the pipeline", **base)
        what, reason = _what(interp, emitted, op, vid, ref)
        return LineNote(status=LineStatus.STAGE, reason=reason, ref=ref, what=what, refs=refs or (ref,), **base)
    if rec.layers:
        for layer in rec.layers:
            for i, op in enumerate(emitted.steps):
                if op.layer is layer:
                    return LineNote(status=LineStatus.STAGE, reason=f"builds {layer.label}, run at step {i + 1}",
                                    ref=i, what="layer", refs=(i,), **base)  # fmt: skip
            for op in graph.ops:
                if op.layer is layer and op.oid in emitted.failures:
                    return LineNote(status=LineStatus.NOT_UNDERSTOOD, reason=emitted.failures[op.oid], **base)
        return LineNote(status=LineStatus.NO_EFFECT, reason=f"builds {rec.layers[0].label}, never called", **base)
    if rec.encoder and emitted.spec is not None and emitted.root is not None and emitted.root.kind != "source":
        return LineNote(status=LineStatus.STAGE, reason="runs the encoder on the texts", ref="source", what="encoder",
                        refs=("source",), **base)  # fmt: skip
    if rec.tokens and emitted.spec is not None and emitted.root is not None and emitted.root.kind != "source":
        return LineNote(status=LineStatus.STAGE, reason="tokenizes the texts: input_ids and attention_mask",
                        ref="source", what="tokens", refs=("source",), **base)  # fmt: skip
    if rec.prints and rec.prints[-1] in emitted.value_ref:
        ref = emitted.value_ref[rec.prints[-1]]
        return LineNote(status=LineStatus.NO_EFFECT, reason="print: the shape it prints is shown", ref=ref,
                        what="print", **base)  # fmt: skip
    if rec.visits == 0:
        context = rec.context or "inside a function or method the code never calls"
        status = LineStatus.NOT_UNDERSTOOD if rec.context_fails else LineStatus.NO_EFFECT
        return LineNote(status=status, reason=context, **base)
    return LineNote(status=LineStatus.NO_EFFECT, reason=rec.effect or "no tensor effect", **base)


def _shown(interp: Interpreter, emitted: Emitted, vids: list[int]) -> int:
    """The value a line shows: its latest step's first output (``out`` rather than ``h_n``)."""
    graph = interp.graph

    def key(vid: int) -> tuple[int, int]:
        ref = emitted.value_ref.get(vid)
        order = ref if isinstance(ref, int) else (-1 if ref else -2)
        return order, -graph.values[vid].index

    return max(vids, key=key)


def _what(interp: Interpreter, emitted: Emitted, op: Any, vid: int, ref: int | str) -> tuple[str, str]:
    pooled = emitted.pooled
    if ref == "pooling" and pooled is not None:
        words = _POOLING_WORDS.get(pooled.strategy, pooled.strategy)
        if vid == pooled.vid:
            return "tensor", f"pooling '{pooled.strategy}': {words}"
        return "part", f"part of pooling '{pooled.strategy}' ({words}), computed as one stage"
    if op.kind == "builtin":
        return "tokens", f"{op.builtin}: (batch, tokens), from the tokenizer"
    if op.kind == "hidden":
        layer = op.hidden_layer
        return "tensor", "the encoder's output: " + ("last_hidden_state" if layer == -1 else f"hidden_states[{layer}]")
    if op.kind == "pool" and op.pooling == "pooler":
        return "tensor", "BERT's pooler output (pooling 'pooler')"
    if op.kind == "source" or ref == "source":
        return "tensor", "the pipeline's input"
    if isinstance(ref, int):
        index = interp.graph.values[vid].index
        if op.kind == "layer" and index > 0:
            return "state", f"step {ref + 1}: the layer's final states"
        return "tensor", f"step {ref + 1}: {emitted.texts.get(ref, '')}"
    return "tensor", ""
