"""PyTorch's OpInfo ``sample_inputs`` / ``error_inputs`` for every op of the language (see ``opinfo_sweep``).

Same shape and strides, same success, a ShapeError with torch's message on failure, never another exception.
The quick run takes a few samples of each op; the whole sweep is marked slow.
"""

from __future__ import annotations

import pytest
from opinfo_sweep import OPS, summary, sweep

pytest.importorskip("expecttest", reason="torch's OpInfo database needs expecttest (requirements-dev.txt)")


def _check(cases) -> None:
    bad = [c for c in cases if c.outcome in ("disagree", "crash")]
    assert not bad, summary(cases) + "\n" + "\n".join(f"{c.op}: {c.text} -> {c.detail}" for c in bad[:20])
    ran = [c for c in cases if c.outcome in ("agree", "agree_fail", "fail_on_values")]
    assert len(ran) >= 0.85 * len([c for c in cases if c.outcome != "skipped"]), summary(cases)


def test_opinfo_samples_quick() -> None:
    cases = sweep(limit=3)
    assert len({c.op for c in cases}) >= 150, "every op of the language with an OpInfo entry is swept"
    _check(cases)


@pytest.mark.slow
def test_opinfo_samples_all() -> None:
    cases = sweep()
    assert len(cases) >= 2500 and len(OPS) >= 150
    _check(cases)
