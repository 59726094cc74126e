"""``core.diagnosis.step_names``: the names a step reads (roles, data paths, aliases, the mask's descendants) and
fixes written back in the user's names (token renaming, targets kept, a layer's input changed without touching the
other readers)."""

from __future__ import annotations

import pytest

from core.diagnosis.finding_tools import on_input
from core.diagnosis.step_names import assignment, read_later, rename, value_text
from core.fixes import apply_fix
from core.spec import Spec
from core.trace import run_spec


def book_of(data: dict):
    """The trace's NameBook after every step (run_spec keeps it in the diagnosis info of the last step)."""
    import core.diagnosis.findings as findings

    seen = {}
    original = findings.stage_findings

    def spy(spec, stages, i, step, info):
        seen["book"] = info["book"]
        return original(spec, stages, i, step, info)

    findings.stage_findings = spy
    try:
        trace = run_spec(Spec.from_dict(data))
    finally:
        findings.stage_findings = original
    return trace, seen["book"]


@pytest.mark.parametrize(
    "source,names,expected",
    [
        ("x[torch.arange(x.shape[0]), lengths - 1]", {"x": "out"}, "out[torch.arange(out.shape[0]), lengths - 1]"),
        ("torch.cat([h_n[-2], h_n[-1]], dim=1)", {"h_n": "h"}, "torch.cat([h[-2], h[-1]], dim=1)"),
        ('reduce(x, "b x h -> b h", "mean")', {"x": "emb"}, 'reduce(emb, "b x h -> b h", "mean")'),  # not in strings
        ("F.pad(x, (0, 1)).x + xx", {"x": "e"}, "F.pad(e, (0, 1)).x + xx"),  # not attributes or longer names
        ("torch.where(m, x, other=x)", {"x": "y"}, "torch.where(m, y, other=y)"),
        ("f(x=1)", {"x": "y"}, "f(x=1)"),  # a keyword argument is not a name
        ("x.permute(0, 2, 1)", {"x": "x"}, "x.permute(0, 2, 1)"),
    ],
)
def test_rename_swaps_names_token_by_token(source, names, expected):
    assert rename(source, names) == expected


def test_assignment_and_value_text_keep_the_users_targets():
    assert assignment(None, "x.mean(1)") == "x.mean(1)"
    assert assignment("last", "out[:, -1]") == "last = out[:, -1]"
    assert assignment(("out", ("h", "c")), "x.chunk(2)") == "out, (h, c) = x.chunk(2)"
    assert value_text("last = out[:, -1, :]") == "out[:, -1, :]"
    assert value_text("x[x == 0]") == "x[x == 0]"
    assert value_text("w *= mask") is None and value_text("a = b = x") is None


def test_the_book_knows_each_names_role_stage_and_path():
    steps = [
        "hidden = x",
        {"lstm": {"hidden_size": 4, "batch_first": True}, "input": "hidden", "output": "out, (h, c)"},
        "m = mask.unsqueeze(-1).float()",
        "last = out[:, -1, :]",
        "tail = x[:, 0]",
    ]
    trace, book = book_of({"shape": [2, 5, 8], "steps": steps})
    assert trace.ok
    names = book.names
    assert names["hidden"].role == "source" and names["hidden"].stage == 0  # an alias of the source
    assert names["out"].role == "output" and names["out"].stage == 2
    assert names["h"].role == "h_n" and names["c"].role == "c_n" and names["h_n"].role == "h_n"
    assert [a.role for a in names["h"].axes] == ["layers", "batch", "features"]
    assert names["m"].from_mask and not names["m"].is_data
    assert names["last"].lineage == {0, 2, 4} and names["tail"].lineage == {0, 5}
    assert book.holding(2, "h_n") == "h" and book.holding(2, "output") == "out"
    assert [n.name for n in book.inputs[4]] == ["out"]


def test_on_input_rebinds_in_place_or_feeds_a_new_name():
    conv = {"conv1d": {"out_channels": 4, "kernel_size": 3}, "input": "emb"}
    alone = Spec.from_dict({"shape": [2, 5, 8], "steps": ["emb = x * 1.0", conv]})
    fix = on_input(alone, 1, "emb", "x.permute(0, 2, 1)")
    assert fix.op == "insert" and fix.step == "emb = emb.permute(0, 2, 1)" and fix.index == 1
    shared = Spec.from_dict({"shape": [2, 5, 8], "steps": ["emb = x * 1.0", conv, "emb.mean(1)", "emb_t = x"]})
    assert read_later(shared.steps, 1, "emb") and not read_later(shared.steps, 2, "emb")
    fix = on_input(shared, 1, "emb", "x.permute(0, 2, 1)")
    assert fix.value[1] == "emb_t2 = emb.permute(0, 2, 1)" and fix.value[2]["input"] == "emb_t2"  # emb_t is taken
    fixed = run_spec(Spec.from_dict(apply_fix(shared.to_dict(), fix)))
    assert fixed.ok and fixed.stages[3].shape == (2, 4, 3) and fixed.stages[4].shape == (2, 8)
    plain = Spec.from_dict({"shape": [2, 5, 8], "steps": [{"conv1d": {"out_channels": 4, "kernel_size": 3}}]})
    assert on_input(plain, 0, "x", "x.permute(0, 2, 1)").step == "x.permute(0, 2, 1)"


@pytest.mark.parametrize(
    "later,reads",
    [(["emb.mean(1)"], True), (["emb = x", "emb.mean(1)"], False), ([{"linear": {"out_features": 2}, "input": "emb"}],
                                                                      True), ([], False)],
)  # fmt: skip
def test_read_later_stops_at_a_rebinding(later, reads):
    spec = Spec.from_dict({"shape": [2, 5, 8], "steps": ["emb = x * 1.0", "y = emb.sum(1)", *later]})
    assert read_later(spec.steps, 1, "emb") is reads
