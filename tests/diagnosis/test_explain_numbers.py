"""Numbers of any length or oddity in a pasted message: every rule's handler survives them.

Python's ``int()`` refuses strings of more than 4,300 digits (ValueError), and a 30-digit "size" makes the
handlers' arithmetic meaningless: every number read from a message goes through ``formatting.num`` (bounded to
int64, what torch prints). The templates are the real torch messages of ``test_explain.TRIGGERED`` plus the older
wordings; a test checks that every row of the rule table is reached by at least one template.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_explain import TRIGGERED, _message

from core.diagnosis.error_lab import build_error_lab
from core.diagnosis.explain import explain
from core.diagnosis.explain.formatting import MAX_SIZE_DIGITS, OversizedNumber, ints, num
from core.diagnosis.explain.rules import RULES

_POSITION_TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/site-packages/transformers/models/bert/modeling_bert.py", line 120, in forward\n'
    "    embeddings = embeddings + position_embeddings\n"
)
# wordings no TRIGGERED row produces (older torch, other call sites, the embeddings' frames)
_EXTRA = [
    "RuntimeError: number of dims don't match in permute",
    "RuntimeError: repeated dim in permute",
    "RuntimeError: input must have 3 dimensions, got 4",
    "RuntimeError: Expected 3-dimensional input for 3-dimensional weight [512, 768, 3], but got 4-dimensional "
    "input of size [2, 3, 768, 10] instead",
    "RuntimeError: size mismatch, m1: [4 x 640], m2: [128 x 2] at /pytorch/aten/src/TH/generic/THTensorMath.cpp:41",
    "RuntimeError: Sizes of tensors must match except in dimension 1. Got 128 and 64 in dimension 2",
    "RuntimeError: Expected hidden size (1, 4, 128), got (1, 3, 128)",
    "RuntimeError: Input batch size 3 doesn't match hidden0 batch size 4",
    "RuntimeError: hidden0 has inconsistent hidden_size: got 64, expected 128",
    "RuntimeError: For batched 3-D input, hx and cx should also be 3-D but got (2-D, 2-D) tensors",
    "RuntimeError: For unbatched 2-D input, hx and cx should also be 2-D but got (3-D, 3-D) tensors",
    "RuntimeError: 'lengths' argument should be a 1D CPU int64 tensor, but got 1D cuda:0 Long tensor",
    "RuntimeError: Expected `len(lengths)` to be equal to batch_size, but got 3 (batch_size=4)",
    "RuntimeError: INDICES element is out of DATA bounds, id=12 axis_dim=10",
    "RuntimeError: dim 1 appears multiple times in the list of dims",
    "RuntimeError: MaxPool1d() Invalid computed output size: -1",
    "ValueError: Using a target size (torch.Size([16, 1])) that is different to the input size "
    "(torch.Size([16])) is deprecated. Please ensure they have the same size.",
    "UserWarning: Using a target size (torch.Size([16, 1])) that is different to the input size "
    "(torch.Size([16, 3])). This will likely lead to incorrect results due to broadcasting.",
    "RuntimeError: Expected floating point type for target with class probabilities, got Long",
    "RuntimeError: Expected target size [4, 3], got [4, 7]",
    "ValueError: Target size (torch.Size([16, 3])) must be the same as input size (torch.Size([16, 4]))",
    "RuntimeError: 0D or 1D target tensor expected, multi-target not supported",
    "IndexError: Target 3 is out of bounds.",
    "/pytorch/aten/src/ATen/native/cuda/Loss.cu:240: nll_loss_forward_reduce_cuda_kernel_2d: block: [0,0,0], thread: "
    "[1,0,0] Assertion `t >= 0 && t < n_classes` failed.",
    "RuntimeError: CUDA error: device-side assert triggered",
    "RuntimeError: `lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You can pass "
    "`enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep this requirement.",
    "RuntimeError: Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0",
    "IndexError: shape mismatch: indexing tensors could not be broadcast together with shapes [32], [16]",
    'einops.EinopsError: Error while processing rearrange-reduction pattern "b l h -> b (l h) 2".\n Input tensor '
    "shape: torch.Size([32, 128, 768]). Additional info: {}.\n Non-unitary anonymous axes are not supported (2)",
    'einops.EinopsError: Error while processing rearrange-reduction pattern "b b h -> b h".\n Input tensor shape: '
    'torch.Size([32, 128, 768]). Additional info: {}.\n Indexing expression contains duplicate dimension "b"',
    "RuntimeError: Invalid padding string 'causal'",
    "RuntimeError: Padding length should be less than or equal to two times the input dimension but got padding "
    "length 8 and input of dimension 3",
    "RuntimeError: running_mean should contain 128 elements not 768",
    "RuntimeError: Tensors must have same number of dimensions: got 3 and 2",
    "RuntimeError: start (120) + length (20) exceeds dimension size (128).",
    "RuntimeError: size mismatch, got input (5), mat (3x5), vec (6)",
    "RuntimeError: inconsistent tensor size, expected tensor [5] and src [6] to have the same number of elements, "
    "but got 5 and 6 elements",
    "RuntimeError: Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!",
    "AttributeError: 'BaseModelOutputWithPoolingAndCrossAttentions' object has no attribute 'shape'",
    _POSITION_TRACE + "RuntimeError: The size of tensor a (600) must match the size of tensor b (512) at "
    "non-singleton dimension 1",
    _POSITION_TRACE + "RuntimeError: The expanded size of the tensor (600) must match the existing size (512) at "
    "non-singleton dimension 1.  Target sizes: [1, 600].  Tensor sizes: [1, 512]",
    _POSITION_TRACE + "IndexError: index 600 is out of bounds for dimension 0 with size 512",
    _POSITION_TRACE + "IndexError: index out of range in self",
]


def _templates() -> list[str]:
    return [_message(row[1]) for row in TRIGGERED] + _EXTRA


TEMPLATES = _templates()
_DIGITS = re.compile(r"\d+")


def _with(template: str, numbers: list[str]) -> str:
    """``template`` with its k-th run of digits replaced by ``numbers[k % len(numbers)]``."""
    it = iter(range(10**6))
    return _DIGITS.sub(lambda _: numbers[next(it) % len(numbers)], template)


def test_every_rule_is_reached_by_a_template():
    """A new row of the rule table must add a template here (or a TRIGGERED row), so the property covers it."""
    from core.diagnosis.explain.api import _blocks

    reached = set()
    for text in TEMPLATES:
        blocks, before = _blocks(text)
        for block, frame in [(b, f) for _, b, f in blocks] + [(before, "")]:
            first = next((i for i, r in enumerate(RULES) if r.search(block, frame)), None)
            if first is not None:
                reached.add(first)
    missing = [f"{RULES[i].kind}: {RULES[i].pattern[:80]}" for i in range(len(RULES)) if i not in reached]
    assert not missing, missing


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("768", 768),
        ("-1", -1),
        ("007", 7),
        ("0", 0),
        ("9223372036854775807", 2**63 - 1),
        ("-000", 0),
        ("٣", 3),  # regex \d matches Unicode digits, and int() reads them
        ("+5", 5),
    ],
)
def test_num_reads_int64(text, want):
    assert num(text) == want


@pytest.mark.parametrize(
    ("text", "digits"), [("9" * 4400, 4400), ("9223372036854775808", 19), ("1" + "0" * 19, 20), ("-" + "5" * 30, 30)]
)
def test_num_refuses_what_no_tensor_size_can_be(text, digits):
    with pytest.raises(OversizedNumber) as info:
        num(text)
    assert info.value.digits == digits
    with pytest.raises(OversizedNumber):
        ints(f"[2, {text}, 3]")


def test_leading_zeros_do_not_count_as_digits():
    assert num("0" * 5000 + "12") == 12


@pytest.mark.parametrize(
    "message",
    [
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x{N} and 128x2)",
        "ValueError: Expected input batch_size ({N}) to match target batch_size (512).",
        "RuntimeError: The size of tensor a ({N}) must match the size of tensor b (3) at non-singleton dimension 1",
        "RuntimeError: input.size(-1) must be equal to input_size. Expected {N}, got 384",
    ],
)
def test_breaker_report_huge_numbers_are_explained_generically(message):
    """The newcomer's crash (4,400 nines): not recognized, with the count of digits and the wording's title."""
    e = explain(message.format(N="9" * 4400))
    assert not e.recognized and e.kind == "unrecognized"
    assert "a size of 4,400 digits" in e.explanation
    assert "at most 19 digits" in e.explanation
    assert "9" * (MAX_SIZE_DIGITS + 1) not in e.explanation + e.message, "the number is elided, not quoted"
    assert "Paste the message exactly as Python printed it" in e.fix
    assert e.numbers == {"digits": 4400}


def test_huge_number_names_the_wording_it_was_found_in():
    e = explain("RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x" + "9" * 4400 + " and 128x2)")
    assert "Matrix multiply / Linear" in e.explanation
    assert "(4x9999…(4,400 digits) and 128x2)" in e.explanation


@pytest.mark.parametrize("template", TEMPLATES, ids=range(len(TEMPLATES)))
@pytest.mark.parametrize("huge", ["9" * 4400, "1" + "0" * 25, "9223372036854775808"])
def test_each_number_of_each_template_can_be_huge(template, huge):
    """One number at a time replaced by a huge one: never raises; a size is never quoted back as if it were real
    (names such as ``Conv999…d`` or an einops pattern are quoted as written, within the regexes' bounds)."""
    runs = list(_DIGITS.finditer(template))
    for m in runs:
        text = template[: m.start()] + huge + template[m.end() :]
        e = explain(text)
        assert len(e.explanation) + len(e.fix) < 4000, text[-300:]
        if huge == "9" * 4400:
            assert huge not in e.explanation + e.fix, text[-300:]
        build_error_lab(e)


_NUMBER = st.one_of(
    st.integers(min_value=0, max_value=12).map(str),
    st.sampled_from(["0", "00", "1", "2", "9223372036854775807", "9223372036854775808", "4294967296", "65536"]),
    st.integers(min_value=20, max_value=6000).map(lambda n: "9" * n),
    st.text(alphabet="0123456789", min_size=1, max_size=40),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(template=st.sampled_from(TEMPLATES), numbers=st.lists(_NUMBER, min_size=1, max_size=6))
def test_templates_with_any_numbers_never_raise(template, numbers):
    """Every rule's message with its numbers replaced by huge, zero, int64-edge or random digit strings:
    ``explain`` and the Error Lab answer (recognized or not) and never raise."""
    text = _with(template, numbers)
    e = explain(text)
    assert isinstance(e.explanation, str) and e.explanation
    assert isinstance(e.fix, str)
    build_error_lab(e)


@pytest.mark.parametrize(
    ("message", "kind", "fragment"),
    [
        # a rank no one types: the example order is not written out dim by dim (was a MemoryError)
        (
            "RuntimeError: permute(sparse_coo): number of dimensions in the tensor input does not match the length "
            "of the desired ordering of dimensions i.e. input.dim() = 9223372036854775807 is not equal to "
            "len(dims) = 2",
            "permute_dims",
            "`x.permute(0, 2, 1)`",
        ),
        # groups of 0 (was a ZeroDivisionError)
        (
            'EinopsError: Error while processing rearrange-reduction pattern "b l (h d) -> b l h d".\n Input tensor '
            "shape: torch.Size([32, 128, 768]). Additional info: {'h': 0}.\n Shape mismatch, can't divide axis of "
            "length 768 in chunks of 0",
            "einops_shape",
            "a group of size 0 holds nothing",
        ),
    ],
)
def test_odd_numbers_found_by_the_property(message, kind, fragment):
    e = explain(message)
    assert e.recognized and e.kind == kind
    assert fragment in e.explanation + e.fix


def test_cli_explain_answers_a_huge_number_with_json(capsys):
    """The report's command line: ``shape-explorer explain "…(4x<4,400 nines> and 128x2)"`` was an internal error."""
    import json

    from core.cli import main

    code = main(["explain", "RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x" + "9" * 4400 + " and 128x2)"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["recognized"] is False and out["numbers"] == {"digits": 4400}
    assert "a size of 4,400 digits" in out["explanation"]
