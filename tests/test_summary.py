"""core.summary against torchinfo: the same numbers for the same layers, on the model the exported script builds.

The exported script (core/export/codegen.py) is parsed with ``ast``; its layer constructors become the
submodules of an ``nn.Module`` whose ``forward`` replays the step lines, and ``torchinfo.summary`` runs on it
with the script's own input. Every layer's output shape, parameter count and output bytes, and every total
(params, trainable, input size, forward/backward pass size, params size, estimated total) must agree.
"""

from __future__ import annotations

import ast
import dataclasses

import pytest
import torch
from torch import nn

from core.export.codegen import export_script
from core.spec import Spec
from core.summary import human_bytes, megabytes, summarize
from core.trace import run_spec

torchinfo = pytest.importorskip("torchinfo")

SPECS = {
    "lstm classifier": {
        "shape": [4, 16, 32],
        "steps": [
            {"lstm": {"hidden_size": 8, "num_layers": 2, "batch_first": True}},
            "x[:, -1, :]",
            {"linear": {"out_features": 2}},
        ],
    },
    "conv then bidirectional gru": {
        "shape": [2, 10, 24],
        "steps": [
            "x.permute(0, 2, 1)",
            {"conv1d": {"out_channels": 12, "kernel_size": 3, "padding": 1}},
            "x.transpose(1, 2)",
            {"gru": {"hidden_size": 6, "bidirectional": True, "batch_first": True}},
            "x.flatten(1)",
            {"linear": {"out_features": 3, "bias": False}},
        ],
    },
    "pooled then linear": {"shape": [5, 7, 16], "pooling": "mean", "steps": [{"linear": {"out_features": 4}}]},
    "lstm with projection, seq-first": {
        "shape": [6, 3, 10],
        "steps": [{"lstm": {"hidden_size": 12, "proj_size": 5, "num_layers": 3}}, "x.sum(0)"],
    },
    "expressions only": {"shape": [3, 4, 5], "steps": ["x.reshape(3, 20)", "x.unsqueeze(0)"]},
}


class Replay(nn.Module):
    """The exported script as a module: its layers as submodules, its step lines as forward."""

    def __init__(self, script: str) -> None:
        super().__init__()
        tree = ast.parse(script)
        start = next(i for i, n in enumerate(tree.body) if _assigns(n, "x") and "randn" in ast.unparse(n))
        self.input_code = compile(ast.Module([tree.body[start]], []), "<input>", "exec")
        layers, body = {}, []
        for node in tree.body[start + 1 :]:
            text = ast.unparse(node)
            if text.startswith(("print(", "torch.manual_seed(")):
                continue
            if isinstance(node, ast.Assign) and "nn." in ast.unparse(node.value):
                (target,) = node.targets
                constructor = compile(ast.Expression(node.value), "<layer>", "eval")
                layers[target.id] = eval(constructor, {"nn": nn})  # our own exported script, in a test
            else:
                body.append(node)
        self.layers = nn.ModuleDict(layers)
        self.body = compile(ast.Module(body, []), "<steps>", "exec")

    def example_input(self) -> torch.Tensor:
        space: dict = {"torch": torch}
        exec(self.input_code, space)  # our own exported script, in a test
        return space["x"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        space = {"torch": torch, "x": x, **dict(self.layers.items())}
        exec(self.body, space)  # our own exported script, in a test
        return space["x"]


def _assigns(node: ast.stmt, name: str) -> bool:
    return isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)


@pytest.mark.parametrize("name", list(SPECS))
def test_summary_matches_torchinfo_on_the_exported_model(name):
    spec = Spec.from_dict(SPECS[name])
    trace = run_spec(spec)
    assert trace.ok, trace.error
    ours = summarize(trace.stages)
    model = Replay(export_script(spec, trace))
    x = model.example_input()
    with torch.no_grad():
        info = torchinfo.summary(model, input_data=[x], verbose=0, col_names=("output_size", "num_params", "trainable"))
    leaves = [layer for layer in info.summary_list if layer.is_leaf_layer and layer.depth > 0]
    layer_rows = [r for r in ours.rows if r.layer not in ("expression", "pooling")]
    assert [layer.class_name for layer in leaves] == [r.layer for r in layer_rows]
    for layer, row in zip(leaves, layer_rows):
        assert tuple(layer.output_size) == row.output_shape, row.name
        assert layer.num_params == row.params and layer.trainable_params == row.trainable, row.name
        assert layer.trainable == row.trainable_text, row.name  # torchinfo's "Trainable" column
        assert layer.output_bytes == row.output_bytes, row.name
    assert ours.total_params == info.total_params
    assert ours.trainable_params == info.trainable_params
    assert ours.non_trainable_params == info.total_params - info.trainable_params
    # torchinfo's input size is sys.getsizeof(storage): the tensor's bytes plus Python's object header
    assert 0 <= info.total_input - ours.input_bytes <= 128
    assert ours.pass_bytes == info.total_output_bytes
    assert ours.param_bytes == info.total_param_bytes
    printed = str(info)
    for label, value in ours.totals():
        assert f"{label}: {value}" in printed, label  # torchinfo's own printout carries the same lines


def test_rows_follow_the_trace_and_expressions_carry_no_params():
    spec = Spec.from_dict(SPECS["conv then bidirectional gru"])
    trace = run_spec(spec)
    s = summarize(trace.stages)
    assert [r.step for r in s.rows] == [1, 2, 3, 4, 5, 6]
    assert [r.layer for r in s.rows] == ["expression", "Conv1d", "expression", "GRU", "expression", "Linear"]
    shapes = [st.shape for st in trace.stages]
    assert [r.input_shape for r in s.rows] == shapes[:-1] and [r.output_shape for r in s.rows] == shapes[1:]
    assert all(r.params == 0 for r in s.rows if r.layer == "expression")
    assert s.rows[1].params == 24 * 12 * 3 + 12  # Conv1d(24, 12, 3): weight + bias
    assert s.rows[-1].params == (2 * 6 * 10) * 3  # Linear(in_features=120 (10 steps x 2 directions x 6), 3, bias=False)
    assert s.input_shape == (2, 10, 24) and s.input_bytes == 2 * 10 * 24 * 4


def test_pooling_is_a_row_and_the_source_is_the_input():
    s = summarize(run_spec(Spec.from_dict(SPECS["pooled then linear"])).stages)
    assert [(r.step, r.layer, r.input_shape, r.output_shape) for r in s.rows] == [
        (None, "pooling", (5, 7, 16), (5, 16)),
        (1, "Linear", (5, 16), (5, 4)),
    ]
    assert s.input_bytes == 5 * 7 * 16 * 4 and s.pass_bytes == 2 * 5 * 4 * 4


def test_failed_pipeline_summarises_the_steps_that_ran():
    spec = Spec.from_dict({"shape": [2, 8, 4], "steps": [{"linear": {"out_features": 3}}, "x.view(5, -1)"]})
    trace = run_spec(spec)
    assert trace.error is not None
    s = summarize(trace.stages)
    assert [r.layer for r in s.rows] == ["Linear"] and s.total_params == 15


def test_text_layout_and_units():
    s = summarize(run_spec(Spec.from_dict(SPECS["lstm classifier"])).stages)
    text = s.text()
    assert text.splitlines()[1].split() == [
        "Step",
        "Layer",
        "Input",
        "Shape",
        "Output",
        "Shape",
        "Param",
        "#",
        "Trainable",
        "Output",
        "memory",
    ]
    assert "LSTM" in text and "x[:, -1, :]" in text and "Total params: 1,938" in text
    assert megabytes(2_500_000) == 2.5
    assert [human_bytes(n) for n in (0, 1023, 1536, 3 * 1024**2)] == ["0 B", "1023 B", "1.5 KiB", "3.0 MiB"]


@pytest.mark.parametrize("frozen", [(), ("weight",), ("weight", "bias")], ids=["none", "weight", "all"])
def test_trainable_column_follows_torchinfos_rule(frozen):
    """The per-row "Trainable" word is torchinfo's for the same counts (True / Partial / False; -- without params)."""
    layer = nn.Linear(3, 2)
    for name in frozen:
        getattr(layer, name).requires_grad_(False)
    (leaf,) = [i for i in torchinfo.summary(layer, input_size=(4, 3), verbose=0).summary_list if i.depth == 0]
    spec = Spec.from_dict({"shape": [4, 3], "steps": [{"linear": {"out_features": 2}}]})
    (row,) = summarize(run_spec(spec).stages).rows
    ours = dataclasses.replace(row, trainable=leaf.trainable_params)  # the app's layers train; freeze as torch did
    assert ours.params == leaf.num_params and ours.trainable_text == leaf.trainable
    assert dataclasses.replace(row, params=0, trainable=0).trainable_text == "--"
