"""All 15 worked examples of the five seed articles, pasted verbatim, import and trace to the article's shapes.

The reference for each example is its lesson (core/teaching/lesson_files/), written independently of the
importer: the lesson's stage shapes must appear, in order, in the imported trace; its final shape is the
trace's; for the articles' mistakes the trace fails with the lesson's error (000 #3, 003 #1) or carries
its warning on the offending line (004 #3). The shapes the articles print in their comments are checked too.
The code blocks are kept verbatim in seed_examples/ (checked against the articles when they are present).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.code_import import LineStatus, import_code
from core.code_import.annotate import trace_code
from core.teaching.lessons import list_lessons

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "seed_examples"
ARTICLES = [Path("/work/shared/seeds"), HERE.parents[2] / "shared" / "seeds", HERE.parents[1] / "shared" / "seeds"]
CASES = sorted(p.stem for p in EXAMPLES.glob("*.txt"))

# The shapes each article says its code prints (from its comments and prose), independent of the lessons.
PRINTED: dict[str, list[tuple[int, ...]]] = {
    "000_1": [(32, 128, 768), (32, 16, 6144)],
    "000_2": [(32, 128, 768), (32, 16, 6144)],
    "000_3": [(32, 125, 768)],  # its "(32, 16, 6000)" is the article's mistake: the reshape fails
    "001_1": [],
    "001_2": [],
    "001_3": [],
    "002_1": [(1, 768)],
    "002_2": [(1, 768)],
    "002_3": [(1, 3072)],
    "003_1": [(32, 64)],  # "yields a shape of (batch_size, hidden_size)"; its alternative fails
    "003_2": [(32, 640)],
    "003_3": [(32, 64, 10), (32, 1, 10)],
    "004_1": [(32, 512, 126)],
    "004_2": [(32, 512, 126)],
    "004_3": [(32, 512, 126)],
}
# 003 #1 and #2 run an earlier alternative on the same input as a named side branch (`name = …`, a layer step
# with "output"): both branches show, the earlier one as named steps.


def lesson_for(case: str):
    seed, example = case.split("_")
    found = [x for x in list_lessons() if x.seed == seed and x.example == int(example) and not x.extra]
    assert len(found) == 1, f"one lesson per worked example, got {[x.name for x in found]}"
    return found[0]


@pytest.fixture(scope="module")
def bert_base():
    from core.model.checkpoints import load_checkpoint

    return load_checkpoint("random:bert-base", "cpu")


@pytest.fixture(scope="module")
def traced(bert_base):
    cache: dict[str, object] = {}

    def get(case: str):
        if case not in cache:
            source = (EXAMPLES / f"{case}.txt").read_text(encoding="utf-8")
            imported = import_code(source)
            ckpt = bert_base if imported.spec is not None and imported.spec.uses_model else None
            cache[case] = trace_code(source, ckpt=ckpt, imported=imported)
        return cache[case]

    return get


def _is_subsequence(small: list, big: list) -> bool:
    it = iter(big)
    return all(any(s == b for b in it) for s in small)


def test_there_are_fifteen_examples_one_per_lesson():
    assert len(CASES) == 15
    assert {lesson_for(c).name for c in CASES} == {
        x.name for x in list_lessons() if x.example is not None and not x.extra
    }


def test_examples_are_the_articles_code_blocks_verbatim():
    folder = next((p for p in ARTICLES if p.is_dir()), None)
    if folder is None:
        pytest.skip("the seed articles are not next to this checkout (../shared/seeds)")
    for article in sorted(folder.glob("*.txt")):
        blocks = re.findall(r"```python\n(.*?)```", article.read_text(encoding="utf-8"), re.S)
        assert len(blocks) == 3, article.name
        for i, block in enumerate(blocks, 1):
            assert (EXAMPLES / f"{article.name[:3]}_{i}.txt").read_text(encoding="utf-8") == block


@pytest.mark.parametrize("case", CASES)
def test_seed_example_traces_to_the_lessons_shapes(case, traced):
    result = traced(case)
    lesson = lesson_for(case)
    assert result.imported.spec is not None, result.imported.problem
    trace = result.trace
    shapes = [s.shape for s in trace.stages]
    expected = [s for s in lesson.stages if s != "error"]
    assert _is_subsequence(expected, shapes), (shapes, lesson.stages)
    if lesson.fails:  # the failing step gets the lesson's last shape (an earlier alternative may run beside it)
        assert trace.error is not None
        assert lesson.expected_shape in shapes  # the failing step's input (a side branch may run after it)
        assert lesson.expected_error in f"{trace.error.message} {trace.error.kind}"
    else:
        assert shapes[-1] == lesson.expected_shape
        assert trace.error is None, trace.error
    if lesson.spec.uses_model:  # the article's checkpoint, bert-base-uncased, stands in as random:bert-base
        assert result.imported.spec.checkpoint == "random:bert-base"
        assert result.imported.spec.texts == lesson.spec.texts


@pytest.mark.parametrize("case", CASES)
def test_seed_example_every_statement_is_understood(case, traced):
    result = traced(case)
    problems = [(n.line, n.reason) for n in result.imported.lines if n.status is LineStatus.NOT_UNDERSTOOD]
    assert problems == []


@pytest.mark.parametrize("case", CASES)
def test_seed_example_prints_what_the_article_says(case, traced):
    shapes = {s.shape for s in traced(case).trace.stages}
    for printed in PRINTED[case]:
        assert printed in shapes, (printed, shapes)


_COMMENT_SHAPE = re.compile(r"(?:Size\(\[|\()(\d+(?:, \d+)+)")
MISTAKES = {"000_3": {(32, 16, 6000)}}  # shapes an article claims its code prints, which it never does


@pytest.mark.parametrize("case", CASES)
def test_print_lines_show_the_shape_the_articles_comment_gives(case, traced):
    """A print line with ``# Output: torch.Size([1, 768])`` shows that very shape (the article's mistakes excepted)."""
    result = traced(case)
    by_line = {a.line: a for a in result.lines}
    source = (EXAMPLES / f"{case}.txt").read_text(encoding="utf-8").splitlines()
    checked = 0
    for number, text in enumerate(source, 1):
        code, _, comment = text.partition("#")
        found = _COMMENT_SHAPE.search(comment)
        if "print(" not in code or not found:
            continue
        claimed = tuple(int(d) for d in found.group(1).split(", "))
        line = by_line[number]
        if claimed in MISTAKES.get(case, set()):
            assert line.shape is None  # the reshape before it fails: it is never printed
        else:
            assert line.shape == claimed, (number, text, line)
        checked += 1
    assert checked == COMMENTED_PRINTS[case]


# print lines whose comment states a shape, per example (counted by hand from the articles)
COMMENTED_PRINTS = {"000_1": 2, "000_2": 2, "000_3": 2, "002_1": 1, "002_2": 1, "002_3": 1, "004_1": 1, "004_2": 1,
                    "004_3": 1, "001_1": 0, "001_2": 0, "001_3": 0, "003_1": 0, "003_2": 0, "003_3": 0}  # fmt: skip


def test_seed_004_view_line_carries_the_warning_and_the_fix(traced):
    result = traced("004_3")
    source = (EXAMPLES / "004_3.txt").read_text(encoding="utf-8").splitlines()
    view_line = next(i for i, text in enumerate(source, 1) if ".view(32, 768, 128)" in text)
    line = next(a for a in result.lines if a.line == view_line)
    assert line.shape == (32, 768, 128)
    assert any("permute" in w or "transpose" in w for w in line.warnings), line.warnings
    finding = next(w for s in result.trace.stages for w in s.warnings if w.code == "view_as_permute")
    assert finding.fix is not None and "permute(0, 2, 1)" in str(finding.fix.step)


def test_seed_000_pad_line_and_failing_reshape_line(traced):
    result = traced("000_3")
    source = (EXAMPLES / "000_3.txt").read_text(encoding="utf-8").splitlines()
    pad_line = next(i for i, text in enumerate(source, 1) if "tf.pad(" in text)
    reshape_line = next(i for i, text in enumerate(source, 1) if "tf.reshape(padded" in text)
    by_line = {a.line: a for a in result.lines}
    assert by_line[pad_line].shape == (32, 128, 768)
    assert any("F.pad" in n for n in by_line[pad_line].note.notes)  # the translation is visible
    err = by_line[reshape_line].error
    assert err is not None and "invalid for input of size 3145728" in err["message"]
    assert "6144" in (err["fix"] or "")
    assert result.imported.framework == "TensorFlow"


def test_seed_003_return_sequences_fails_like_torch_on_its_line(traced):
    result = traced("003_1")
    source = (EXAMPLES / "003_1.txt").read_text(encoding="utf-8").splitlines()
    call_line = next(i for i, text in enumerate(source, 1) if "lstm_layer_last_state(dummy_input)" in text)
    line = next(a for a in result.lines if a.line == call_line)
    assert line.error is not None and "return_sequences" in line.error["message"]
    assert "Keras" in line.error["explanation"] or "keras" in line.error["explanation"].lower()


def test_seed_002_masked_mean_stays_steps_each_line_its_shape(traced):
    """The language runs every line of the hand-written masked mean: each keeps its own shape, and the note
    says it is the app's pooling 'mean'."""
    result = traced("002_2")
    assert result.imported.spec.pooling.value == "none"
    by_line = {a.line: a.shape for a in result.lines}
    assert [by_line[n] for n in range(12, 18)] == [(1, 13, 768), (1, 13, 1), (1, 13, 768), (1, 768), (1, 1), (1, 768)]
    assert any("pooling 'mean'" in n and "kept as steps" in n for n in result.imported.notes)


def test_seed_002_last_four_layers_become_pooling_last4_concat(traced):
    """Four hidden layers cannot feed the steps (they read one layer): the idiom is the Spec's pooling."""
    result = traced("002_3")
    spec = result.imported.spec
    assert spec.pooling.value == "last4_concat" and spec.steps == ()
    parts = [a for a in result.lines if a.note.what == "part"]
    assert len(parts) >= 3 and all(a.shape == (1, 3072) for a in parts)
