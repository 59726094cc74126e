"""Command line: trace / explain / embed (and lessons). Contract in DESIGN.md.

Exit codes: 0 ran (warnings allowed) / recognized; 1 a step hit a shape error (JSON still printed) /
not recognized; 2 invalid input, refused expression or unloadable checkpoint (one line on stderr).
Never a traceback. Imports stay light: no streamlit, plotly or scikit-learn on this path.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import stat
import sys
import tempfile
from pathlib import Path

MAX_SPEC_BYTES = 2_000_000
MAX_CODE_BYTES = 10_000_000  # read this much; core.code_import.guard refuses pastes over its own limit
MAX_TEXTS_FILE_BYTES = 50_000_000


OUT_OF_MEMORY = (
    "ran out of memory: this machine could not allocate what the run needs; use fewer or shorter texts, "
    "smaller shapes or layers, or a smaller checkpoint"
)


def is_out_of_memory(e: BaseException) -> bool:
    """MemoryError, torch.OutOfMemoryError, or torch's allocator RuntimeError ("can't allocate memory")."""
    text = str(e)
    return (
        isinstance(e, MemoryError)
        or type(e).__name__ == "OutOfMemoryError"
        or "can't allocate memory" in text
        or "not enough memory" in text
    )


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit 2."""


def _parser() -> argparse.ArgumentParser:
    prog = "shape-explorer" if Path(sys.argv[0]).name == "shape-explorer" else "python -m core"
    p = argparse.ArgumentParser(prog=prog, description="Shape Explorer core commands")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("trace", help="run a spec and print its trace as JSON")
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--spec", help="spec JSON file ('-' for stdin)")
    src.add_argument("--lesson", help="name of a bundled lesson (see `lessons`)")
    src.add_argument("--code", help="a Python file ('-' for stdin): read (never run) into a spec, then traced")
    t.add_argument("--checkpoint", help="with --code: run this checkpoint instead of the one the code names")
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    c = sub.add_parser("import-code", help="read a Python file (never run) and print the spec it gives")
    c.add_argument("file", help="the Python file ('-' for stdin)")
    c.add_argument("--checkpoint", help="use this checkpoint instead of the one the code names")
    e = sub.add_parser("explain", help="explain a pasted PyTorch error message")
    e.add_argument("message", help="the error message or traceback ('-' for stdin)")
    m = sub.add_parser("embed", help="embed one text per line into .npy files")
    m.add_argument("--texts-file", required=True)
    m.add_argument("--checkpoint", default=None)
    m.add_argument("--pooling", default="mean", help="a strategy, or 'all' (a folder, one <strategy>.npy each)")
    m.add_argument("--max-length", type=int, default=256)
    m.add_argument("--layer", type=int, default=-1)
    m.add_argument(
        "--token-budget", type=int, default=1536, help="rows x longest row per batch, at least 1 (core.model.embed)"
    )
    m.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    m.add_argument("--out", required=True)
    sub.add_parser("lessons", help="list the bundled lessons, one per line")
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse already printed its usage line
        return 2 if e.code else 0
    from core.errors import CheckpointError, SpecError

    try:
        commands = {
            "trace": cmd_trace,
            "import-code": cmd_import_code,
            "explain": cmd_explain,
            "embed": cmd_embed,
            "lessons": cmd_lessons,
        }
        return commands[args.command](args)
    except (SpecError, CheckpointError, UsageError) as e:
        _fail(str(e))
        return 2
    except KeyboardInterrupt:
        _fail("interrupted")
        return 2
    except MemoryError:
        _fail(OUT_OF_MEMORY)
        return 2
    except BrokenPipeError:  # the reader closed the pipe early (`| head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # never a traceback for a user; keep it one line
        if is_out_of_memory(e):
            _fail(OUT_OF_MEMORY)
        else:
            _fail(f"internal error ({type(e).__name__}): {e}")
        return 2


def run() -> None:
    """Console-script entry point (``shape-explorer``): the same as ``python -m core``."""
    sys.exit(main())


def _fail(message: str) -> None:
    line = " ".join(str(message).split())
    print(f"error: {line[:2000]}", file=sys.stderr)


def _read(path: str, limit: int) -> str:
    """A regular file (or '-' for stdin) of at most ``limit`` bytes, as UTF-8 text; UsageError saying why not."""
    if path == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        p = Path(path)
        try:
            st = p.stat()
        except FileNotFoundError:
            raise UsageError(f"no such file: {path}") from None
        except OSError as e:
            raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
        if stat.S_ISDIR(st.st_mode):
            raise UsageError(f"{path} is a folder, not a file")
        if not stat.S_ISREG(st.st_mode):  # /dev/zero, a FIFO, a socket: reading could block or never end
            raise UsageError(f"{path} is not a regular file (a device, pipe or socket); give a file, or '-' for stdin")
        if st.st_size > limit:
            raise UsageError(f"{path} is larger than {limit:,} bytes")
        try:
            with p.open("rb") as f:
                data = f.read(limit + 1)
        except OSError as e:
            raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > limit:
        raise UsageError(f"input is larger than {limit:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None


def cmd_trace(args: argparse.Namespace) -> int:
    from core.spec import Spec
    from core.trace import run_spec

    if args.checkpoint and not args.code:
        raise UsageError("--checkpoint goes with --code (a spec names its own checkpoint)")
    if args.code:
        return _trace_code(args)
    if args.lesson:
        from core.teaching.lessons import get_lesson

        spec = get_lesson(args.lesson).spec
    else:
        spec = Spec.from_json(_read(args.spec, MAX_SPEC_BYTES))
    trace = run_spec(spec, device=args.device)
    print(json.dumps(trace.to_dict(), indent=2, ensure_ascii=False))
    return 0 if trace.ok else 1


def _import(path: str, checkpoint: str | None):
    """Read a code file and import it; nothing usable is a one-line error (exit 2)."""
    from core.code_import import CodeRefused, import_code

    result = import_code(_read(path, MAX_CODE_BYTES), checkpoint)
    if result.spec is None:
        where = "stdin" if path == "-" else path
        raise CodeRefused(f"nothing to trace in {where}: {result.problem}")
    return result


def _trace_code(args: argparse.Namespace) -> int:
    from core.code_import.annotate import trace_code

    imported = _import(args.code, args.checkpoint)
    result = trace_code(imported.source, device=args.device, imported=imported)
    print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    return 0 if result.trace.ok else 1


def cmd_import_code(args: argparse.Namespace) -> int:
    imported = _import(args.file, args.checkpoint)
    print(imported.spec.to_json())
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from core.diagnosis.explain import explain

    message = _read("-", MAX_SPEC_BYTES) if args.message == "-" else args.message
    result = explain(message)
    print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    return 0 if result.recognized else 1


def cmd_embed(args: argparse.Namespace) -> int:
    from core.analysis.samples import is_blank
    from core.model.checkpoints import load_checkpoint
    from core.model.embed import DEFAULT_TOKEN_BUDGET, embed_texts
    from core.spec import DEFAULT_CHECKPOINT, MAX_LENGTH_LIMIT, MIN_MAX_LENGTH, Pooling

    raw = _read(args.texts_file, MAX_TEXTS_FILE_BYTES)
    texts = [line.rstrip("\r") for line in raw.split("\n")]
    if texts and texts[-1] == "":
        texts.pop()  # trailing newline
    blank = [n for n, t in enumerate(texts, start=1) if is_blank(t)]
    if len(blank) == len(texts):  # nothing, or only blank lines (spaces, tabs, zero-width characters)
        raise UsageError(f"{args.texts_file} holds no text (one text per line)")
    if blank:  # kept, so row i of the output stays line i of the file
        shown = ", ".join(map(str, blank[:5])) + (f" and {len(blank) - 5} more" if len(blank) > 5 else "")
        print(
            f"note: line(s) {shown} of {args.texts_file} are blank; each is embedded as an empty text so that "
            "row i of the output stays line i",
            file=sys.stderr,
        )
    if not MIN_MAX_LENGTH <= args.max_length <= MAX_LENGTH_LIMIT:
        raise UsageError(
            f"--max-length must be within {MIN_MAX_LENGTH}..{MAX_LENGTH_LIMIT} "
            "(BERT's tokenizer always adds its 2 special tokens)"
        )
    if args.token_budget < 1:
        raise UsageError(
            f"--token-budget must be a positive number of tokens per batch (rows x longest row), got "
            f"{args.token_budget}; the default is {DEFAULT_TOKEN_BUDGET}"
        )
    if args.pooling == "all":
        strategies = [p for p in Pooling if p is not Pooling.NONE]
    else:
        strategies = [Pooling.parse(args.pooling)]
        if strategies[0] is Pooling.NONE:
            raise UsageError("embed writes one vector per text: choose a pooling other than 'none', or 'all'")
    targets = _output_paths(Path(args.out), strategies if args.pooling == "all" else None)  # before any work
    print(f"loading {args.checkpoint or DEFAULT_CHECKPOINT} ...", file=sys.stderr)
    collecting = gc.isenabled()
    gc.disable()  # importing transformers and loading the model allocate ~500k objects that live until exit:
    try:  # without this, 5 full collections walked them during the load (0.46 s of a 7.9 s run, 1,000 texts)
        ckpt = load_checkpoint(args.checkpoint or DEFAULT_CHECKPOINT, args.device, attn="sdpa")
    finally:
        gc.freeze()  # ...and later collections leave them alone
        if collecting:  # as the caller had it (main() may run in-process)
            gc.enable()
    if args.pooling == "all":
        strategies = [s for s in strategies if _supported(s, ckpt)]

    def progress(done: int, total: int) -> None:
        print(f"\rembedded {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    result = embed_texts(ckpt, texts, strategies, args.max_length, args.layer, args.token_budget, progress)
    for s, arr in result.items():
        _save(targets[s] if args.pooling == "all" else targets[None], arr)
    if args.pooling == "all":
        folder = Path(args.out)
        print(f"wrote {len(result)} files to {folder}/: {', '.join(s.value for s in result)}", file=sys.stderr)
    else:
        print(f"wrote {targets[None]} {result[strategies[0]].shape}", file=sys.stderr)
    return 0


def _output_paths(out: Path, strategies: list | None) -> dict:
    """The files embed will write, checked before any work: ``{None: file}`` or ``{strategy: folder/<s>.npy}``.

    A single output gets ``.npy`` appended when its name lacks it (as numpy.save does), so the report names
    the real file. Raises UsageError when the target cannot be written: an existing folder where a file is
    due (or the reverse), or a folder that cannot be created or written to (tested by creating a file there).
    """
    if strategies is None:
        target = out if out.name.endswith(".npy") else out.with_name(out.name + ".npy")
        if target.is_dir():
            raise UsageError(f"--out {target} is a folder; give a file name (or use --pooling all for a folder)")
        _check_writable(target.parent, f"--out {target}")
        if target.exists() and not os.access(target, os.W_OK):
            raise UsageError(f"--out {target} exists and is not writable")
        return {None: target}
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is an existing file; --pooling all writes a folder of .npy files")
    _check_writable(out, f"--out {out}")
    targets = {s: out / f"{s.value}.npy" for s in strategies}
    for path in targets.values():
        if path.is_dir():
            raise UsageError(f"--out {out}: {path.name} is a folder, so it cannot be written")
    return targets


def _check_writable(folder: Path, what: str) -> None:
    """Create ``folder`` (and parents) if missing, then prove a file can be created in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".shape-explorer-", suffix=".tmp"):
            pass
    except FileExistsError:
        raise UsageError(f"{what}: {folder} exists and is not a folder") from None
    except OSError as e:
        raise UsageError(f"{what}: cannot write in {folder} ({e.strerror or e})") from None


def _save(path: Path, arr) -> None:
    """numpy.save to a temporary file beside ``path``, then rename: no half-written file on failure."""
    import numpy as np

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            np.save(f, arr)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _supported(strategy, ckpt) -> bool:
    from core.spec import Pooling

    if strategy is Pooling.POOLER:
        return ckpt.info.has_pooler
    if strategy in (Pooling.LAST4_CONCAT, Pooling.LAST4_SUM):
        return ckpt.info.num_layers + 1 >= 4
    return True


def cmd_lessons(args: argparse.Namespace) -> int:
    from core.teaching.lessons import list_lessons

    for lesson in list_lessons():
        print(f"{lesson.name}\t{lesson.title}")
    return 0
