"""Numbers and extra tensors as people write them in pasted code, checked against the same snippet run in
plain torch (here, in the test only: the importer never runs pasted code).

Numbers: ``float("-inf")`` / ``float('-inf')`` / ``-float("inf")`` / ``float("nan")`` / ``math.inf`` / ``np.inf``
/ ``torch.finfo(x.dtype).min`` / ``torch.finfo(torch.float32).max`` / ``torch.iinfo(torch.int32).max``: every line
is understood and the pipeline's last tensor equals torch's, value for value (NaN where torch has NaN).
Extra tensors: a second ``torch.randn`` / ``rand`` / ``zeros`` / ``ones`` becomes a named step; every line shows
the shape torch gives it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from core.code_import import LineStatus, import_code
from core.code_import.annotate import trace_code

HEAD = "import math\nimport numpy as np\nimport torch\nimport torch.nn.functional as F\n"
SOURCE = "x = torch.randn(2, 5, 8)\nmask = (torch.arange(5).expand(2, 5) < 3).long()\n"
FILL = "s = x.masked_fill(mask.unsqueeze(-1) == 0, {})\nw = torch.softmax(s, dim=1)\nout = (w * x).sum(1)\n"
NUMBERS = [
    'float("-inf")',
    "float('-inf')",
    '-float("inf")',
    "float('-Infinity')",
    "-math.inf",
    "-np.inf",
    "torch.finfo(x.dtype).min",
    "torch.finfo(torch.float32).min",
    "-torch.finfo(x.dtype).max",
    "torch.finfo().min",
    "-1e9",
    "float(-1e4)",
]
ELEMENTWISE = [
    "y = x.masked_fill(mask.unsqueeze(-1) == 0, float('nan'))",
    "y = x.masked_fill(mask.unsqueeze(-1) == 0, math.nan)",
    "y = x.masked_fill(mask.unsqueeze(-1) == 0, float('inf'))",
    "y = x.masked_fill(mask.unsqueeze(-1) == 0, math.inf) - math.pi",
    "y = x.clamp(min=torch.finfo(x.dtype).eps)",
    "y = x.clamp(min=torch.finfo(torch.float16).tiny, max=torch.iinfo(torch.int8).max)",
    "neg = float('-inf')\ny = x.masked_fill(mask.unsqueeze(-1) == 0, neg)",
    "big = torch.iinfo(torch.int16).max\ny = x.clamp(max=big) * 2",
]


def _reference(code: str, source: torch.Tensor) -> dict:
    """Run ``code`` in plain torch statement by statement (the first ``torch.randn`` is the trace's source)."""
    ns: dict = {}
    tree = ast.parse(code)
    shapes: dict[int, tuple[int, ...]] = {}
    first = True
    for stmt in tree.body:
        exec(compile(ast.Module([stmt], []), "<snippet>", "exec"), ns)  # the reference only, in the test
        if isinstance(stmt, ast.Assign):
            target = stmt.targets[0]
            name = target.elts[0].id if isinstance(target, ast.Tuple) else getattr(target, "id", None)
            if first and "torch.randn" in ast.unparse(stmt.value):
                ns[name] = source.clone()
                first = False
            if isinstance(ns.get(name), torch.Tensor):
                shapes[stmt.lineno] = tuple(ns[name].shape)
    return {"ns": ns, "shapes": shapes}


def _traced(code: str):
    imported = import_code(code)
    assert imported.spec is not None, imported.problem
    bad = [(n.line, n.reason) for n in imported.lines if n.status is LineStatus.NOT_UNDERSTOOD]
    assert bad == []
    result = trace_code(code, imported=imported)
    assert result.trace.error is None, result.trace.error
    return imported, result


def _check_shapes(code: str, result, ref: dict) -> None:
    for line, shape in ref["shapes"].items():
        shown = next(a for a in result.lines if a.line <= line <= a.end_line)
        assert shown.shape == shape, (code.splitlines()[line - 1], shown.shape, shape)


@pytest.mark.parametrize("number", NUMBERS)
def test_a_fill_number_is_understood_and_masks_like_torch(number):
    code = HEAD + SOURCE + FILL.format(number)
    _, result = _traced(code)
    ref = _reference(code, result.trace.tensors[0])
    _check_shapes(code, result, ref)
    torch.testing.assert_close(result.trace.tensors[-1], ref["ns"]["out"], equal_nan=True)


@pytest.mark.parametrize("line", ELEMENTWISE)
def test_special_numbers_give_torchs_values(line):
    code = HEAD + SOURCE + line + "\nz = y.sum(-1)\n"
    _, result = _traced(code)
    ref = _reference(code, result.trace.tensors[0])
    _check_shapes(code, result, ref)
    torch.testing.assert_close(result.trace.tensors[-1], ref["ns"]["z"], equal_nan=True)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("y = x.clamp(max=torch.finfo(torch.int64).max)", "torch.finfo() requires a floating point input type"),
        ("y = x.clamp(max=torch.iinfo(x.dtype).max)", "name the dtype (`torch.iinfo(torch.int64).max`)"),
        ("y = x.clamp(max=torch.finfo(torch.float32).biggest)", "torch.finfo has no field `biggest`"),
        ("y = x.clamp(max=torch.finfo(3).max)", "`torch.finfo(…)` takes a dtype"),
        ("y = x.clamp(max=float('lots'))", "float('lots') is not a number (Python raises ValueError)"),
    ],
)
def test_numbers_the_importer_cannot_read_say_why(line, fragment):
    note = import_code(HEAD + SOURCE + line + "\nz = y + 1\n").note_at(7)
    assert note.status is LineStatus.NOT_UNDERSTOOD and fragment in note.reason, note.reason


EXTRA_TENSORS = {
    "einsum-attention": "q = torch.randn(2, 12, 16, 64)\nk = torch.randn(2, 12, 16, 64)\n"
    's = torch.einsum("bhqd,bhkd->bhqk", q, k)\nw = s.softmax(-1)\no = torch.einsum("bhqk,bhkd->bhqd", w, k)\n',
    "split-a-second-random": "x = torch.randn(2, 10, 768)\na, b = x.chunk(2, -1)\ny = a * torch.sigmoid(b)\n"
    "q, k, v = torch.randn(2, 10, 192).split(64, dim=-1)\natt = torch.softmax(q @ k.transpose(-1, -2) / 8.0, dim=-1)\n"
    "ctx = att @ v\n",
    "rand-zeros-ones": "x = torch.randn(3, 4, 8)\nbias = torch.zeros(8)\n"
    "scale = torch.ones(1, 1, 8)\ny = (x + torch.rand(3, 4, 8)) * scale + bias\nz = y @ torch.randn(8, 2)\n",
    "bmm-with-random-weights": "x = torch.randn(4, 6, 16)\nW = torch.randn(16, 16)\nh = torch.tanh(x @ W)\n"
    "u = torch.randn(16, 1)\nscores = (h @ u).squeeze(-1)\nalpha = F.softmax(scores, dim=1)\n"
    "ctx = torch.bmm(alpha.unsqueeze(1), x).squeeze(1)\n",
}


@pytest.mark.parametrize("name", list(EXTRA_TENSORS))
def test_a_second_random_tensor_is_a_named_step_with_torchs_shapes(name):
    code = HEAD + EXTRA_TENSORS[name]
    imported, result = _traced(code)
    _check_shapes(code, result, _reference(code, result.trace.tensors[0]))
    steps = [s for s in imported.spec.to_dict()["steps"] if isinstance(s, str)]
    assert any("torch.randn(" in s or "torch.rand(" in s for s in steps), steps


def test_a_random_tensor_on_its_own_line_says_where_it_goes():
    code = HEAD + "x = torch.randn(3, 4, 8)\nnoise = torch.rand(3, 4, 8)\ny = x + noise\n"
    imported = import_code(code)
    assert imported.note_at(6).reason == (
        "noise: uniform values in [0, 1), shape (3, 4, 8) (a loss's synthetic target; a step that uses it as a "
        "tensor writes it in)"
    )
    assert imported.spec.to_dict()["steps"] == ["x + torch.rand((3, 4, 8))"]


def test_random_steps_draw_the_same_values_every_run():
    code = HEAD + EXTRA_TENSORS["einsum-attention"]
    first = trace_code(code).trace.tensors[-1]
    assert torch.equal(first, trace_code(code).trace.tensors[-1])


def test_a_refused_line_is_quoted_as_the_user_wrote_it():
    code = HEAD + "x = torch.randn(2, 10, 192)\nq, k, v = torch.bucketize(x, x).split(64, dim=-1)\n"
    code += "att = q @ k.transpose(-1, -2)\n"
    note = import_code(code).note_at(6)
    assert note.status is LineStatus.NOT_UNDERSTOOD
    assert note.reason.startswith(
        "the expression language refuses `q, k, v = torch.bucketize(x, x).split(64, dim=-1)`: "
        "`torch.bucketize` is not a function the app runs"
    ), note.reason
    assert "not allowed" not in note.reason


HF_CLASSIFIER = Path(__file__).parent / "snippets" / "attention_pool_classifier.txt"


@pytest.mark.slow
def test_attention_pooling_classifier_is_understood_whole():
    """A Hugging Face classifier with masked_fill(attention_mask == 0, float("-inf")) pooling: every line."""
    from core.model.checkpoints import load_checkpoint

    code = HF_CLASSIFIER.read_text()
    imported = import_code(code)
    assert [(n.line, n.reason) for n in imported.not_understood] == []
    result = trace_code(code, ckpt=load_checkpoint(imported.spec.checkpoint, "cpu"), imported=imported)
    assert result.trace.error is None
    lines = code.splitlines()

    def shape(fragment: str):
        number = next(i for i, t in enumerate(lines, 1) if fragment in t)
        return next(a for a in result.lines if a.line <= number <= a.end_line).shape

    b, seq = result.trace.tensors[0].shape[:2]
    assert (b, seq) == (2, len(result.trace.encoding.attention_mask[0]))
    assert shape("s = self.score(h)") == (b, seq)
    assert shape("masked_fill") == (b, seq)
    assert shape("w = torch.softmax") == (b, seq)
    assert shape("pooled =") == (b, 384)
    assert shape("return self.head") == (b, 3)
    # the weights are torch's softmax over the masked scores: exactly 0 on padding
    stages = {s.title: i for i, s in enumerate(result.trace.stages)}
    s_masked = result.trace.tensors[[i for t, i in stages.items() if t.endswith("→ s")][-1]]
    w = result.trace.tensors[next(i for t, i in stages.items() if t.endswith("→ w"))]
    mask = result.trace.encoding.attention_mask.to(w.device)
    torch.testing.assert_close(w, torch.softmax(s_masked, dim=-1))
    assert torch.all(w[mask == 0] == 0) and torch.all(torch.isinf(s_masked[mask == 0]))
