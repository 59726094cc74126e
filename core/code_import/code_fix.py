"""Write a fix (a spec edit, ``core.fixes.Fix``) back into the user's own code.

The diagnosis offers fixes as edits of the Spec: replace step i, insert a step before step i, delete step i,
set or remove a layer parameter. Each is written where that step lives in the pasted code, in the user's
names (``x.permute(0, 2, 1)`` on the line ``reshaped_output = bert_output.view(32, 768, 128)`` becomes
``reshaped_output = bert_output.permute(0, 2, 1)``). The new code is then imported again, and it is only
returned when it gives exactly the fixed Spec — otherwise None, and the caller shows the fixed pipeline
as exported code instead.

    >>> code = "import torch\\nx = torch.randn(2, 3, 4)\\ny = x.view(2, 4, 3)\\n"
    >>> from core.fixes import Fix
    >>> print(fix_code(import_code(code), Fix("", "replace", index=0, step="x.permute(0, 2, 1)")).splitlines()[-1])
    y = x.permute(0, 2, 1)
"""

from __future__ import annotations

import ast
from typing import Any

from core.code_import.importer import import_code
from core.code_import.records import CodeImport, CodeRefused, Span
from core.errors import SpecError
from core.fixes import Fix, apply_fix
from core.spec import Spec


def fix_code(imported: CodeImport, fix: Fix) -> str | None:
    """The code with ``fix`` written into it, or None when that cannot be done faithfully."""
    if imported.spec is None:
        return None
    try:
        wanted = Spec.from_dict(apply_fix(imported.spec.to_dict(), fix)).to_dict()
    except SpecError:
        return None
    try:
        new = _rewrite(imported, fix)
    except (SyntaxError, ValueError, KeyError, IndexError):
        return None
    if new is None or new == imported.source:
        return None
    try:
        again = import_code(new, imported.checkpoint_override)
    except CodeRefused:
        return None
    if again.spec is None or _normal(again.spec.to_dict()) != _normal(wanted):
        return None
    return new


def _normal(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec dict compared up to spelling: ``mask`` and ``attention_mask`` are one tensor."""
    out = {k: v for k, v in spec.items() if k != "title"}
    out["steps"] = [_same_names(s) if isinstance(s, str) else s for s in spec.get("steps", [])]
    return out


def _same_names(step: str) -> str:
    tree = ast.parse(step)
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and n.id == "mask":
            n.id = "attention_mask"
    return ast.dump(tree)


def fix_text(imported: CodeImport, fix: Fix) -> str:
    """The fix's description in the user's names, for the code panel: the pipeline's step text (``x``,
    ``mask``) is replaced by the line as it would read in the code, and ``step N`` by the code's line.

        "replace step 1 by x.permute(0, 2, 1)" -> "replace line 5 by reshaped_output = bert_output.permute(0, 2, 1)"

    The description is returned unchanged when the step has no place in the code or a name has no user
    spelling (the words then stay the pipeline's, which the stage table shows).
    """
    i = fix.index
    site = imported.sites.get(i) if i is not None else None
    if site is None:
        return fix.description
    text = fix.description
    if isinstance(fix.step, str) and fix.step in text:
        try:
            user = _in_user_names(fix.step, dict(site.names))
        except SyntaxError:
            user = None
        if user is None:
            return fix.description
        target = dict(site.names).get("x") if fix.op == "insert" else site.target
        text = text.replace(fix.step, f"{target} = {user}" if target else user)
    return text.replace(f"step {i + 1} ", f"line {site.line} ", 1)


def _rewrite(imported: CodeImport, fix: Fix) -> str | None:
    i = fix.index
    if i is None or i not in imported.sites:
        return None
    site = imported.sites[i]
    lines = imported.source.replace("\r\n", "\n").split("\n")
    names = dict(site.names)
    if imported.framework == "TensorFlow" and isinstance(fix.step, str):
        translated = _to_tensorflow(fix.step)
        if translated is None:
            return None
        fix = Fix(fix.description, fix.op, fix.index, translated, fix.param, fix.key, fix.value)
    if fix.op == "replace" and isinstance(fix.step, str):
        if site.value is None:
            return None
        text = _in_user_names(fix.step, names)
        return text and _splice(lines, site.value, text)
    if fix.op == "insert" and isinstance(fix.step, str):
        if not site.first or "x" not in names:
            return None
        text = _in_user_names(fix.step, names)
        if text is None:
            return None
        indent = lines[site.line - 1][: len(lines[site.line - 1]) - len(lines[site.line - 1].lstrip())]
        lines.insert(site.line - 1, f"{indent}{names['x']} = {text}")
        return "\n".join(lines)
    if fix.op == "delete":
        if site.value is None or "x" not in names or site.target is None:
            return None
        return _splice(lines, site.value, names["x"])
    if fix.op == "set_param" and fix.param:
        return _set_param(lines, site.layer_args, site.call, fix.param, fix.value)
    if fix.op == "delete_param" and fix.param:
        for param, span, keyword in site.layer_args:
            if param == fix.param and keyword:
                return _remove_keyword(lines, param, span)
        return None
    return None


def _to_tensorflow(step: str) -> str | None:
    """A torch step written back in TensorFlow (reshape, permute), for a TensorFlow paste; None otherwise."""
    tree = ast.parse(step.strip(), mode="eval").body
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Attribute) and not tree.keywords):
        return None
    recv, args = ast.unparse(tree.func.value), ", ".join(ast.unparse(a) for a in tree.args)
    if tree.func.attr == "reshape":
        return f"tf.reshape({recv}, ({args}{',' if len(tree.args) == 1 else ''}))"
    if tree.func.attr == "permute":
        return f"tf.transpose({recv}, perm=[{args}])"
    return None


def _in_user_names(step: str, names: dict[str, str]) -> str | None:
    """A step's expression with the spec's names replaced by the user's (None if one has no user name)."""
    tree = ast.parse(step.strip(), mode="exec")
    if len(tree.body) != 1:
        return None
    node = tree.body[0]
    value = node.value if isinstance(node, ast.Expr | ast.Assign) else None
    if value is None:
        return None
    known = {"torch", "F", "rearrange", "reduce", "repeat", "tf", "math", "float", "int"}
    for n in ast.walk(value):
        if isinstance(n, ast.Name) and n.id not in known:
            if n.id not in names:
                return None
            n.id = names[n.id]
    return ast.unparse(value)


def _offset(lines: list[str], line: int, col: int) -> int:
    return sum(len(text) + 1 for text in lines[: line - 1]) + col


def _splice(lines: list[str], span: Span, text: str) -> str:
    source = "\n".join(lines)
    start, end = _offset(lines, span[0], span[1]), _offset(lines, span[2], span[3])
    return source[:start] + text + source[end:]


def _literal(value: Any) -> str:
    return repr(value)


def _set_param(
    lines: list[str], args: tuple[tuple[str, Span, bool], ...], call: Span | None, param: str, value: Any
) -> str | None:
    for name, span, _keyword in args:
        if name == param:
            return _splice(lines, span, _literal(value))
    if call is None:
        return None
    if args:  # after the last argument written
        last = max((span for _, span, _ in args), key=lambda s: (s[2], s[3]))
        point = (last[2], last[3], last[2], last[3])
        return _splice(lines, point, f", {param}={_literal(value)}")
    source = "\n".join(lines)
    end = _offset(lines, call[2], call[3]) - 1  # just before the closing parenthesis
    if source[end] != ")":
        return None
    return source[:end] + f"{param}={_literal(value)}" + source[end:]


def _remove_keyword(lines: list[str], param: str, span: Span) -> str | None:
    source = "\n".join(lines)
    end = _offset(lines, span[2], span[3])
    start = source.rfind(param, 0, _offset(lines, span[0], span[1]))
    comma = source.rfind(",", 0, start)
    if start < 0 or comma < 0 or source[comma + 1 : start].strip():
        return None
    return source[:comma] + source[end:]
