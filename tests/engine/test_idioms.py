"""Real-world NLP idioms (tests/engine/idioms.py): >= 95% supported, 0 disagreements with plain torch, 0 crashes."""

from __future__ import annotations

import pytest
from idioms import IDIOMS, measure, run_idiom

REFUSED_ON_PURPOSE = {  # each refusal names the construct and the way out
    "F.dropout(scores.softmax(-1), p=0.1, training=False)": "dropout is the identity at inference",
    "labels.item()": "reading a value out of a tensor is not part of the language",
    "out.max(dim=1)": "returns a tuple; pick one piece (`.values` / `[0]`) or unpack it",
    "x.masked_fill_(mask.unsqueeze(-1) == 0, 0.0)": "in-place `.masked_fill_` is not allowed",
}


@pytest.mark.parametrize(("where", "item", "ref"), IDIOMS, ids=[f"{w}: {i if isinstance(i, str) else ' ; '.join(i)}"
                                                               for w, i, _ in IDIOMS])  # fmt: skip
def test_idiom(where, item, ref) -> None:
    result = run_idiom(where, item, ref)
    if isinstance(item, str) and item in REFUSED_ON_PURPOSE:
        assert result.outcome == "refused" and REFUSED_ON_PURPOSE[item] in result.detail, result
    else:
        assert result.outcome == "supported", result


def test_idiom_figures() -> None:
    results = measure()
    n = len(results)
    supported = sum(r.outcome == "supported" for r in results)
    assert n >= 105
    assert supported / n >= 0.95, f"{supported}/{n}"
    assert not [r for r in results if r.outcome in ("disagree", "crash")]
