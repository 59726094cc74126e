"""Shape text: the forms a user types, and a reason for each refusal."""

from __future__ import annotations

import pytest

from core.lab.shape_text import parse_shape_text


@pytest.mark.parametrize(
    ("text", "shape"),
    [("2, 4, 6", (2, 4, 6)), ("(32, 128, 768)", (32, 128, 768)), ("2x4x6", (2, 4, 6)), ("2×4×6", (2, 4, 6)),
     ("[5]", (5,)), (" 3 ; 4 ", (3, 4)), ("(7,)", (7,)), ("2 4 6", (2, 4, 6))],
)  # fmt: skip
def test_parse_shape_text(text, shape):
    assert parse_shape_text(text) == shape


@pytest.mark.parametrize(
    ("text", "why"),
    [("", "type a shape"), ("2, a", "is not a shape"), ("2, 0", "at least 1"), ("1,1,1,1,1,1,1", "too many"),
     ("100000, 100000", "the limit"), ("2.5", "is not a shape"), ("-2, 3", "is not a shape"),
     ("2, x", "is not a shape"), ("2,,3", "is not a shape")],
)  # fmt: skip
def test_parse_shape_text_refuses_with_a_reason(text, why):
    with pytest.raises(ValueError, match=why):
        parse_shape_text(text)
