"""From the importer's graph to Spec steps: which value is ``x``, which get names, what each line became.

The pipeline's source is the root of the chain that ends in the code's last tensor: follow each op's
primary input (the method's receiver, the first tensor argument, the layer's input) back to
``torch.randn`` or the encoder's hidden states. The values on that chain are ``x`` and become bare
expression steps and plain layer steps (the legacy forms, so an imported lesson equals the lesson);
every other tensor the code makes is a named step (``w = torch.bmm(x, h_n[-1].unsqueeze(2))``) under the
user's own name. A value read after ``x`` has moved on is given a name too. Each step is checked by the
engine's own parser before it is kept; a refused step makes its line "not understood" (and the lines that
use it), or — for an op that keeps the shape, such as ``F.relu`` — passes its input through with a note.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from core.code_import.graph import BUILTINS, Graph, Op
from core.code_import.idioms import Pooled, find_pooling
from core.code_import.losses import spec_labels
from core.code_import.render import render
from core.code_import.values import REF, refs_in
from core.errors import SpecError
from core.spec import MAX_STEPS, LayerKind, parse_step

RESERVED = frozenset(
    {"x", "loss", "mask", "attention_mask", "input_ids", "lengths", "h_n", "c_n", "labels", "torch", "F", "nn",
     "einops", "rearrange", "reduce", "repeat", "math", "self", "_"}
)  # fmt: skip
_ROOT_KINDS = ("source", "hidden", "pool")


class _NeedName(Exception):
    def __init__(self, vid: int) -> None:
        self.vid = vid


def engine_check(text: str, shown: str | None = None) -> str | None:
    """None when the engine's whitelist parser accepts the step (``core.engine.parse``), else its reason.

    ``shown``: the user's own line, quoted instead of the step (whose names are the pipeline's: ``x``). A
    function or method the language lacks is said to be one the app does not run, not "not allowed".
    """
    from core.engine.parse import parse_statement
    from core.errors import ExpressionRefused

    try:
        parse_statement(text)
    except ExpressionRefused as e:
        why = str(e).split("; allowed")[0]
        why = re.sub(r"^(`[^`]+`) is not allowed: not a supported function", r"\1 is not a function the app runs", why)
        why = re.sub(r"^(`[^`]+`) is not allowed(?=[;:]| \(did)", r"\1 is not a method the app runs", why)
        return f"the expression language refuses `{(shown or text)[:80]}`: {why}"
    return None


def user_line(lines: list[str], first: int, last: int) -> str:
    """The statement on lines ``first``..``last`` (1-based) as the user wrote it, on one line."""
    text = " ".join(part.strip() for part in lines[first - 1 : last])
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class Emitted:
    """The Spec (as a dict) the graph gives, and where every value and op went."""

    spec: dict[str, Any] | None
    steps: list[Op] = field(default_factory=list)  # the op of each step (the root op for a copy step)
    value_ref: dict[int, int | str] = field(default_factory=dict)  # vid -> step index | "source" | "pooling"
    failures: dict[int, str] = field(default_factory=dict)  # op id -> reason
    passthrough_notes: dict[int, str] = field(default_factory=dict)  # op id -> note
    pooled: Pooled | None = None
    root: Op | None = None
    names: dict[int, str] = field(default_factory=dict)  # step index -> names it binds (for code fixes)
    inputs: dict[int, dict[str, int]] = field(default_factory=dict)  # step index -> spec name -> vid it read
    texts: dict[int, str] = field(default_factory=dict)  # step index -> the step as a line of code
    recognized: Pooled | None = None  # a hand-written pooling kept as steps (the same as the app's strategy)
    problem: str = ""


class Emitter:
    def __init__(self, interp: Any, marks: frozenset[str] = frozenset()) -> None:
        self.marks = marks  # pooling strategies the code names in a `# pooling: X` comment
        self.it = interp
        self.graph: Graph = interp.graph
        self.failed: dict[int, str] = {}
        self.alias: dict[int, int] = {}
        self.need_name: set[int] = set()
        self.notes: dict[int, str] = {}
        self.pooled: Pooled | None = None
        self.failed_alias: set[int] = set()  # ops replaced by their input (a fallback to nothing)

    # ------------------------------------------------------------------------------------ entry
    def run(self) -> Emitted:
        """Steps for the graph. A hand-written pooling stays a chain of steps when the language runs every one
        of them (each line then shows its own shape); otherwise — or when the code marks it ``# pooling: X``,
        as our export does — it becomes the Spec's pooling, one stage."""
        n_entries = None
        if self.it.outputs:
            n_entries = self.it.sizes_of(self.it.outputs[0].model)[0] + 1
        found = find_pooling(self.graph, n_entries)
        if found is not None and found.strategy not in self.marks:
            faithful = self._emit()
            idiom = {*found.absorbed, self.graph.op_of(found.vid).oid}
            if faithful.spec is not None and not idiom & (set(faithful.failures) | self.failed_alias):
                faithful.recognized = found
                return faithful
            self.failed, self.alias, self.need_name, self.notes = {}, {}, set(), {}
            self.failed_alias = set()
        self.pooled = found
        if self.pooled is not None:
            op = self.graph.op_of(self.pooled.vid)
            op.kind, op.pooling, op.hidden_layer = "pool", self.pooled.strategy, self.pooled.layer
            op.inputs, op.primary = (), None
        return self._emit()

    def _emit(self) -> Emitted:
        for _ in range(4 * len(self.graph.ops) + 8):
            try:
                return self._attempt()
            except _NeedName as e:
                self.need_name.add(e.vid)
        return Emitted(None, problem="the importer could not name the values of this code")  # pragma: no cover

    def resolve(self, vid: int) -> int:
        seen = 0
        while vid in self.alias and seen < 100:
            vid, seen = self.alias[vid], seen + 1
        return vid

    def absorbed(self, op: Op) -> bool:
        return self.pooled is not None and op.oid in self.pooled.absorbed

    # ---------------------------------------------------------------------------------- analysis
    def _propagate(self) -> None:
        """Fail every op that reads a value of a failed op (program order)."""
        for op in self.graph.ops:
            if op.oid in self.failed or op.kind not in ("expr", "layer", "loss"):
                continue
            for vid in op.inputs:
                src = self.graph.op_of(self.resolve(vid))
                if src.oid in self.failed:
                    who = self.graph.values[vid].names
                    shown = f"`{who[-1]}`" if who else "a value"
                    self.failed[op.oid] = f"uses {shown} from line {src.line}, which was not understood"
                    break

    def _root(self) -> tuple[Op | None, int | None]:
        alive = [op for op in self.graph.ops if op.oid not in self.failed and not self.absorbed(op)]
        candidates = [op for op in alive if op.kind in ("expr", "layer", "loss", *_ROOT_KINDS)]
        if not candidates:
            return None, None
        final = candidates[-1].outs[0]
        v = self.resolve(final)
        for _ in range(len(self.graph.ops) + 1):
            op = self.graph.op_of(v)
            if op.kind in _ROOT_KINDS:
                return op, final
            if op.primary is None:
                break
            v = self.resolve(op.primary)
        firsts = [op for op in alive if op.kind in _ROOT_KINDS]
        return (firsts[0], final) if firsts else (None, final)

    def _main(self, root: Op, final: int) -> set[int]:
        chain: set[int] = set()
        v = self.resolve(final)
        for _ in range(len(self.graph.ops) + 1):
            chain.add(v)
            op = self.graph.op_of(v)
            if op is root or op.primary is None:
                break
            v = self.resolve(op.primary)
        return chain if root.outs[0] in chain else {root.outs[0]}

    def _other_roots(self, root: Op) -> None:
        """A second input (another torch.randn, another hidden layer) is an expression, or not understood."""
        for op in self.graph.ops:
            if op is root or op.oid in self.failed or self.absorbed(op) or op.kind not in _ROOT_KINDS:
                continue
            if op.kind == "source" and op.term is not None:
                op.kind = "expr"
                op.inputs, op.primary = (), None
                continue
            if op.kind == "hidden":
                read = any(op.outs[0] in o.inputs for o in self.graph.ops if o.oid not in self.failed)
                if not read and root.kind != "source" and op.hidden_layer == root.hidden_layer:
                    continue  # the encoder's output the source stage shows, read by nothing else
                what = f"hidden_states[{op.hidden_layer}]" if op.hidden_layer != -1 else "last_hidden_state"
                if root.kind == "source":
                    why = f"{what}: this pipeline starts from the synthetic input on line {root.line}"
                else:
                    layer = root.hidden_layer if root.hidden_layer is not None else -1
                    why = f"{what}: the pipeline's steps read one hidden-state layer ({layer}, line {root.line})"
            else:
                why = f"a second pooled input: the pipeline starts from line {root.line}"
            self.failed[op.oid] = why

    # ----------------------------------------------------------------------------------- emission
    def _attempt(self) -> Emitted:
        self._propagate()
        root, final = self._root()
        if root is None or final is None:
            return Emitted(None, failures=dict(self.failed), problem=self._nothing())
        self._other_roots(root)
        self._propagate()
        root, final = self._root()
        assert root is not None and final is not None
        main = self._main(root, final)
        ops = [
            op
            for op in self.graph.ops
            if op.kind in ("expr", "layer", "loss")
            and op.oid not in self.failed
            and op.oid not in self.failed_alias
            and not self.absorbed(op)
        ]
        last_use: dict[int, int] = {}
        for idx, op in enumerate(ops):
            for v in op.inputs:
                last_use[self.resolve(v)] = idx
        out = Emitted(None, failures=dict(self.failed), pooled=self.pooled, root=root)
        state = _State(root.outs[0], last_use)
        for op in self.graph.ops:  # an unread encoder output of the layer the source stage shows
            if op.kind == "hidden" and op.oid not in self.failed and not self.absorbed(op) and op is not root:
                out.value_ref[op.outs[0]] = "source"
        for v in root.outs:
            out.value_ref[v] = "pooling" if root.kind == "pool" and root.pooling != "pooler" else "source"
        if root.kind == "pool" and root.pooling == "pooler":
            out.value_ref[root.outs[0]] = "pooling"
        steps: list[Any] = []
        if root.outs[0] in self.need_name:
            name = state.alloc(self._base(root.outs[0]), -1, root.outs[0])
            state.bind(name, root.outs[0])
            steps.append(f"{name} = x")
            out.steps.append(root)
            out.names[0] = name
            out.texts[0] = f"{name} = x"
        for idx, op in enumerate(ops):
            if len(steps) >= MAX_STEPS:
                self.failed[op.oid] = f"the pipeline holds at most {MAX_STEPS} steps"
                raise _Restart()
            step, binds, inputs = self._step(op, idx, main, state)
            problem = self._check(step, len(steps), op)
            if problem:
                if op.fallback is not None and op.kind == "expr" and len(op.outs) == 1:
                    op.term, op.fallback = op.fallback, None
                    op.inputs = tuple(sorted(refs_in(op.term)))
                    self.notes[op.oid] = f"{op.note or 'this op keeps the shape'}: not run here ({problem})"
                    if isinstance(op.term, ast.Name):  # nothing left to run: the value is its input
                        self.alias[op.outs[0]] = int(op.term.id[len(REF) :])
                        self.failed_alias.add(op.oid)
                else:
                    self.failed[op.oid] = problem
                raise _Restart()
            out.names[len(steps)] = ", ".join(binds)
            out.texts[len(steps)] = step if isinstance(step, str) else _layer_text(step)
            out.inputs[len(steps)] = inputs
            for v in op.outs:
                out.value_ref[v] = len(steps)
            steps.append(step)
            out.steps.append(op)
        for vid, target in self.alias.items():
            out.value_ref.setdefault(vid, out.value_ref.get(self.resolve(target), "source"))
        for name in BUILTINS:
            if name in self.graph.builtins:
                out.value_ref.setdefault(self.graph.builtins[name], "source")
        if self.pooled is not None:
            for oid in self.pooled.absorbed:
                absorbed = self.graph.ops[oid]
                # the layer the spec feeds is also the source stage: show it there
                same = absorbed.kind == "hidden" and absorbed.hidden_layer == self.pooled.layer
                for v in absorbed.outs:
                    out.value_ref[v] = "source" if same else "pooling"
        out.passthrough_notes = dict(self.notes)
        out.spec = self._spec(root, steps, out)
        out.failures = dict(self.failed)
        return out

    def _nothing(self) -> str:
        if self.failed:
            first = min(self.failed, key=lambda oid: self.graph.ops[oid].line)
            return f"no tensor could be followed (line {self.graph.ops[first].line}: {self.failed[first]})"
        return (
            "no tensor to trace: the code has no torch.randn(…) input, no tokenizer + model call, and no "
            "nn.Module that is built and called"
        )

    def _base(self, vid: int) -> str:
        names = self.graph.values[vid].names
        for name in reversed(names):
            clean = re.sub(r"\W", "_", name)
            if clean.isidentifier() and not keyword.iskeyword(clean):
                return clean
        return f"t{self.graph.op_of(vid).line}"

    def _step(self, op: Op, idx: int, main: set[int], state: _State) -> tuple[Any, list[str], dict[str, int]]:
        inputs: dict[str, int] = {}

        def namer(vid: int, dim: int | None) -> str | int:
            v = self.resolve(vid)
            if v == state.x:
                inputs["x"] = v
                return "x"
            held = state.held.get(v)
            if held is not None and state.bound.get(held) == v:
                inputs[held] = v
                return held
            vop = self.graph.op_of(v)
            if vop.kind == "builtin":
                return vop.builtin
            if dim is not None:
                known = self.it.known_dim(v, dim) if vop.kind in ("source", "hidden") else None
                if known is not None:
                    return known
            raise _NeedName(v)

        if op.kind == "loss":
            return self._loss_step(op, state, namer, inputs)
        if op.kind == "expr":
            text = render(op.term, namer)  # type: ignore[arg-type]
            targets = []
            for v in op.outs:
                if self._takes_x(v, main, state, idx) and "x" not in targets:
                    targets.append("x")
                else:
                    targets.append(state.alloc(self._base(v), idx, v))
            for t, v in zip(targets, op.outs):
                state.bind(t, v)
            if targets == ["x"]:
                return text, ["x"], inputs
            return f"{', '.join(targets)} = {text}", targets, inputs
        return self._layer_step(op, idx, main, state, namer, inputs)

    def _loss_step(self, op: Op, state: _State, namer, inputs) -> tuple[Any, list[str], dict[str, int]]:
        """``{"loss": {"kind", …params}, "input": <logits>, "target": …}``; the step binds ``loss``."""
        loss = op.loss or {}
        data: dict[str, Any] = {"loss": {"kind": loss["kind"], **loss["params"]}}
        logits = namer(op.primary, None)  # type: ignore[arg-type]
        if logits != "x":
            data["input"] = logits
        target = loss["target"]
        if isinstance(target, str) and target.startswith("labels"):
            problem = self._labels_problem()
            if problem:
                self.failed[op.oid] = problem
                raise _Restart()
        data["target"] = target
        state.bind("loss", op.outs[0])
        return data, ["loss"], inputs

    def _labels_problem(self) -> str | None:
        """Why the code's labels cannot be the Spec's (one per text, or per row of the synthetic input)."""
        from core.loss_step import parse_labels

        labels = spec_labels(self.it.labels)
        root = self._root()[0]
        if root is not None and root.kind == "source":
            rows, what = (root.shape or (0,))[0], "row of the input"
        else:
            rows, what = (len(self.it.outputs[0].encoding.texts) if self.it.outputs else 0), "text"
        try:
            parse_labels(labels, rows, what)
        except SpecError as e:
            return f"the labels cannot be the pipeline's: {e}"
        return None

    def _takes_x(self, vid: int, main: set[int], state: _State, idx: int) -> bool:
        """A value becomes ``x`` when it is on the main chain, or when nothing reads the current ``x`` again."""
        if vid in self.need_name:
            return False
        return vid in main or state.last_use.get(state.x, -1) <= idx

    def _layer_step(self, op: Op, idx, main, state, namer, inputs) -> tuple[Any, list[str], dict[str, int]]:
        layer = op.layer
        assert layer is not None
        data: dict[str, Any] = {layer.kind.value: dict(layer.params)}
        x_in = namer(op.primary, None)  # type: ignore[arg-type]
        if x_in != "x":
            data["input"] = x_in
        for key, term in (("h0", op.h0), ("c0", op.c0)):
            if term is not None:
                data[key] = render(term, namer)
        out_v = op.outs[0]
        out_name = "x" if self._takes_x(out_v, main, state, idx) else None
        recurrent = layer.kind in (LayerKind.LSTM, LayerKind.GRU)
        states = op.outs[1:]
        defaults = ["h_n", "c_n"][: len(states)]
        # a state read after a later recurrent step rebinds h_n / c_n needs its own name
        state_names = [state.alloc(self._base(v), idx, v) if v in self.need_name else d for d, v in
                       zip(defaults, states)]  # fmt: skip
        if out_name == "x" and state_names == defaults:
            names = ["x", *defaults]
        else:
            names = [out_name or state.alloc(self._base(out_v), idx, out_v), *state_names]
            if recurrent:
                data["output"] = f"{names[0]}, ({names[1]}, {names[2]})" if layer.kind is LayerKind.LSTM else (
                    f"{names[0]}, {names[1]}")  # fmt: skip
            else:
                data["output"] = names[0]
        for n, v in zip(names, op.outs):
            state.bind(n, v)
        for d, v in zip(defaults, states):  # the engine binds h_n / c_n to the latest recurrent layer's states
            state.bound[d] = v
            state.held.setdefault(v, d)
        return data, names, inputs

    def _check(self, step: Any, index: int, op: Op | None = None) -> str | None:
        if isinstance(step, str):
            shown = None
            lines = getattr(self.it, "source_lines", None)
            if op is not None and op.record is not None and lines:
                stmt = op.record.stmt
                shown = user_line(lines, stmt.lineno, stmt.end_lineno or stmt.lineno)
            return engine_check(step, shown)
        try:
            parse_step(step, index)
        except SpecError as e:
            text = str(e)
            return text.split(": ", 1)[1] if text.startswith("step ") and ": " in text else text
        return None

    def _spec(self, root: Op, steps: list[Any], out: Emitted) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if root.kind == "source":
            data["shape"] = list(root.shape or ())
        elif root.kind == "pool" and self.pooled is not None and self.pooled.synthetic is not None:
            data["shape"] = list(self.pooled.synthetic)
            data["pooling"] = self.pooled.strategy
        else:
            output = self.it.outputs[0]
            resolved = self.it.resolve(output.model)
            data.update(
                texts=list(output.encoding.texts),
                checkpoint=resolved.checkpoint,
                max_length=output.encoding.max_length,
                layer=root.hidden_layer if root.hidden_layer is not None else -1,
                pooling=root.pooling or "none" if root.kind == "pool" else "none",
            )
        data["steps"] = steps
        if self.it.labels is not None and any(
            isinstance(s, dict) and isinstance(s.get("target"), str) and "labels" in s["target"] for s in steps
        ):
            data["labels"] = spec_labels(self.it.labels)
        data["seed"] = self._seed(out)
        return data

    def _seed(self, out: Emitted) -> int:
        if self.graph.seed is not None:
            return self.graph.seed
        for i, op in enumerate(out.steps):
            if op.kind == "layer" and op.layer is not None and op.layer.seed is not None:
                n = op.layer.seed
                value = (n - i) // 1000 if n >= i and (n - i) % 1000 == 0 else n
                return value if 0 <= value < 2**31 else 0
        return 0


def _layer_text(step: dict[str, Any]) -> str:
    from core.spec import TORCH_NAMES

    if "loss" in step:
        from core.loss_step import parse_loss_step

        return parse_loss_step(step, "").source

    kind = next(k for k in step if k in {k.value for k in LayerKind})
    args = ", ".join(f"{k}={v!r}" for k, v in step[kind].items())
    call = f"nn.{TORCH_NAMES[LayerKind(kind)]}({args})({step.get('input', 'x')})"
    return f"{step['output']} = {call}" if "output" in step else call


class _Restart(_NeedName):
    def __init__(self) -> None:
        super().__init__(-1)


class _State:
    """The spec names during emission: which value ``x`` holds, and every other bound name."""

    def __init__(self, x: int, last_use: dict[int, int]) -> None:
        self.x = x
        self.bound: dict[str, int] = {}
        self.held: dict[int, str] = {}
        self.last_use = last_use

    def free(self, name: str, idx: int) -> bool:
        holder = self.bound.get(name)
        return holder is None or self.last_use.get(holder, -1) <= idx

    def alloc(self, base: str, idx: int, vid: int, allow_reserved: bool = False) -> str:
        n = 1
        while True:
            name = base if n == 1 else f"{base}_{n}"
            ok_word = allow_reserved and name in ("h_n", "c_n")
            if (ok_word or name not in RESERVED) and self.free(name, idx):
                return name
            n += 1

    def bind(self, name: str, vid: int) -> None:
        if name == "x":
            self.x = vid
            return
        self.bound[name] = vid
        self.held[vid] = name
