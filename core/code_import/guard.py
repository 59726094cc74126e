"""The gate in front of the importer: size limits, parsing with ``ast``, and statements refused as hostile.

Pasted code is never executed, imported, compiled or eval'd: ``ast.parse`` reads it, and the importer
walks the tree. This module bounds that walk (characters, lines, statements, nesting) so any paste is
answered in well under a second, and marks the statements that reach for the operating system or
Python's internals (``import os``, ``__import__``, ``open``, ``eval``, dunder attributes such as
``__globals__``). A marked statement is reported as refused; nothing in it is interpreted.

    >>> tree, refused = parse_paste("import os\\nx = torch.randn(2, 3)")
    >>> list(refused.values())[0]
    'refused: `import os` reaches the operating system (nothing you paste is ever run)'
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import warnings

from core.code_import.records import CodeRefused

MAX_CODE_CHARS = 200_000
MAX_LINES = 5_000
MAX_LINE_CHARS = 20_000  # longer lines are generated code or an attack on the parser
MAX_STATEMENTS = 2_000
MAX_BRACKETS = 40  # (, [ or { open at once
MAX_EXPR_DEPTH = 60  # syntax-tree levels inside one statement

SAFE_IMPORTS = frozenset(
    {
        "torch", "transformers", "tensorflow", "keras", "numpy", "einops", "math", "typing", "dataclasses",
        "collections", "functools", "itertools", "warnings", "logging", "random", "sentence_transformers",
        "tqdm", "matplotlib", "seaborn", "sklearn", "pandas", "__future__", "time", "datetime", "json", "re",
        "string", "copy", "abc", "enum", "pprint", "statistics", "operator", "numbers", "textwrap",
    }
)  # fmt: skip
# modules that reach the operating system, the network or Python's own machinery
HOSTILE_IMPORTS = frozenset(
    {
        "os", "sys", "subprocess", "shutil", "socket", "pickle", "marshal", "ctypes", "importlib", "builtins",
        "pathlib", "io", "requests", "urllib", "urllib3", "http", "multiprocessing", "threading", "signal", "code",
        "codeop", "pty", "runpy", "tempfile", "glob", "webbrowser", "ftplib", "smtplib", "telnetlib", "asyncio",
        "inspect", "gc", "sysconfig", "platform", "pdb", "dill", "joblib", "cloudpickle", "yaml", "shelve",
        "sqlite3", "zipfile", "tarfile", "posix", "nt", "resource", "fcntl", "mmap", "selectors", "select",
        "ssl", "uuid", "base64", "zlib", "gzip", "bz2", "lzma", "types", "weakref", "atexit", "site", "traceback",
    }
)  # fmt: skip
HOSTILE_NAMES = frozenset(
    {
        "eval", "exec", "compile", "open", "__import__", "getattr", "setattr", "delattr", "globals", "locals",
        "vars", "input", "breakpoint", "exit", "quit", "memoryview", "__builtins__", "builtins",
    }
)  # fmt: skip
ALLOWED_DUNDERS = frozenset({"__init__", "__name__", "__main__"})
_MAGIC = re.compile(r"^\s*[!%]")  # notebook shell commands and magics
_PROMPT = re.compile(r"^(>>>|\.\.\.)( |$)")
NOTHING_RUNS = "nothing you paste is ever run"


def normalize(source: str) -> tuple[str, dict[int, str]]:
    """Strip ``>>>`` / ``...`` prompts and blank out notebook magics (``!pip``, ``%time``).

    Returns the Python text (same line numbers) and {line: reason} for the blanked lines.
    """
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    prompts = sum(1 for line in lines if _PROMPT.match(line))
    blanked: dict[int, str] = {}
    out = []
    for i, line in enumerate(lines, 1):
        if prompts and _PROMPT.match(line):
            line = line[4:] if len(line) > 3 else ""
        elif prompts and line.strip():  # the printed output of a doctest session
            blanked[i] = "output of an interactive session (a line without >>> or ...)"
            line = ""
        if _MAGIC.match(line) and not line.lstrip().startswith("%%"):
            blanked[i] = "notebook magic or shell command (not Python; not run)"
            line = ""
        out.append(line)
    return "\n".join(out), blanked


def check_size(source: str) -> None:
    """Refuse a paste over the character or line limit before anything else looks at it."""
    if not isinstance(source, str):
        raise CodeRefused(f"pasted code must be text, got {type(source).__name__}")
    if len(source) > MAX_CODE_CHARS:
        raise CodeRefused(
            f"the paste is {len(source):,} characters long; the limit is {MAX_CODE_CHARS:,} "
            f"(paste the part with the tensors; {NOTHING_RUNS})"
        )
    if "\x00" in source:
        raise CodeRefused("the paste contains NUL bytes: it is not Python source text")
    lines = source.count("\n") + 1
    if lines > MAX_LINES:
        raise CodeRefused(f"the paste has {lines:,} lines; the limit is {MAX_LINES:,}")
    longest = max(source.split("\n"), key=len)
    if len(longest) > MAX_LINE_CHARS:
        number = source.split("\n").index(longest) + 1
        raise CodeRefused(f"line {number} is {len(longest):,} characters long; the limit is {MAX_LINE_CHARS:,}")
    if not source.strip():
        raise CodeRefused("the paste is empty: paste a PyTorch (or TensorFlow) snippet or an nn.Module class")


def _bracket_depth(source: str) -> None:
    """Refuse brackets nested over MAX_BRACKETS (strings excluded; a quick count first)."""
    depth = deepest = 0
    for ch in source:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    if deepest <= MAX_BRACKETS:
        return  # brackets inside strings only ever add to the quick count
    depth = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.OP:
                if tok.string in "([{":
                    depth += 1
                    if depth > MAX_BRACKETS:
                        raise CodeRefused(
                            f"line {tok.start[0]}: brackets nested more than {MAX_BRACKETS} deep; {NOTHING_RUNS}"
                        )
                elif tok.string in ")]}":
                    depth -= 1
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return  # ast.parse below reports the syntax error with a better message


def comment_lines(source: str) -> list[int]:
    """1-based lines that hold only a comment."""
    out = []
    try:
        prev_line = 0
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT and tok.line.strip().startswith("#") and tok.start[0] != prev_line:
                out.append(tok.start[0])
            if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                prev_line = tok.start[0]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return out


def parse_paste(source: str) -> tuple[ast.Module, dict[int, str]]:
    """Parse the paste (after ``check_size``); returns the tree and {id(statement): refusal reason}.

    Raises CodeRefused when the text is not Python or exceeds a structural limit.
    """
    check_size(source)
    _bracket_depth(source)
    try:
        with warnings.catch_warnings():  # SyntaxWarnings (invalid escapes, "is" with a literal) are not ours
            warnings.simplefilter("ignore")
            tree = ast.parse(source, mode="exec")
    except SyntaxError as e:
        where = f"line {e.lineno}: " if e.lineno else ""
        text = (e.text or "").strip()
        shown = f" (`{text[:60]}`)" if text else ""
        raise CodeRefused(f"{where}not valid Python{shown}: {e.msg}") from None
    except (RecursionError, MemoryError):
        raise CodeRefused(f"the paste is nested too deeply to read; {NOTHING_RUNS}") from None
    except ValueError as e:
        raise CodeRefused(f"the paste could not be read as Python: {e}") from None
    statements = [n for n in ast.walk(tree) if isinstance(n, ast.stmt)]
    if len(statements) > MAX_STATEMENTS:
        raise CodeRefused(f"the paste has {len(statements):,} statements; the limit is {MAX_STATEMENTS:,}")
    refused = {}
    for stmt in statements:
        reason = refusal(stmt)
        if reason:
            refused[id(stmt)] = reason
    return tree, refused


_BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")


def own_nodes(stmt: ast.stmt) -> list[tuple[ast.AST, int]]:
    """The syntax nodes a statement holds itself (not those of the statements in its blocks), with depth."""
    out: list[tuple[ast.AST, int]] = []
    stack: list[tuple[ast.AST, int]] = []
    for name, value in ast.iter_fields(stmt):
        if name in _BLOCK_FIELDS:
            continue
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, ast.AST):
                stack.append((child, 1))
    while stack:
        node, depth = stack.pop()
        out.append((node, depth))
        if depth > MAX_EXPR_DEPTH:
            break
        stack.extend((c, depth + 1) for c in ast.iter_child_nodes(node))
    return out


def refusal(stmt: ast.stmt) -> str | None:
    """Why a statement is refused as hostile (or too deep to read), or None."""
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        names = [a.name for a in stmt.names] if isinstance(stmt, ast.Import) else [stmt.module or ""]
        for name in names:
            root = name.split(".")[0]
            if root in HOSTILE_IMPORTS:
                text = f"import {name}" if isinstance(stmt, ast.Import) else f"from {name} import …"
                return f"refused: `{text}` reaches the operating system ({NOTHING_RUNS})"
        if isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                if alias.name.startswith("__") or alias.name in HOSTILE_NAMES:
                    return f"refused: importing `{alias.name}` ({NOTHING_RUNS})"
    for node, depth in own_nodes(stmt):
        if depth > MAX_EXPR_DEPTH:
            return f"refused: an expression nested more than {MAX_EXPR_DEPTH} levels deep ({NOTHING_RUNS})"
        if isinstance(node, ast.Name) and node.id in HOSTILE_NAMES:
            return f"refused: `{node.id}` reaches outside the tensors ({NOTHING_RUNS})"
        name = (
            node.attr
            if isinstance(node, ast.Attribute)
            else node.id
            if isinstance(node, ast.Name)
            else node.arg
            if isinstance(node, ast.keyword)
            else None
        )
        if name and name.startswith("__") and name.endswith("__") and name not in ALLOWED_DUNDERS:
            return f"refused: `{name}` is one of Python's internals ({NOTHING_RUNS})"
    return None
