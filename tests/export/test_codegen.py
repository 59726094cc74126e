"""Code export: the exported script RUNS on its own and reproduces the trace (same final shape, same numbers).

Each script is executed with a fresh interpreter in an empty folder (so it cannot lean on the project's
modules); a line printing the first values of ``x`` is appended to compare numbers, not just shapes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from core.export.codegen import export_script
from core.spec import Spec
from core.trace import run_spec

TEXTS = ["This movie was absolutely amazing!", "The plot was confusing."]
LSTM = {"lstm": {"hidden_size": 128, "num_layers": 2, "batch_first": True}}
SEED_004 = {"shape": [32, 128, 768]}
CONV_768 = {"conv1d": {"in_channels": 768, "out_channels": 512, "kernel_size": 3}}

# name -> (spec, slow)
SPECS: dict[str, tuple[dict, bool]] = {
    "default_bert_lstm_linear": (
        {"texts": TEXTS, "steps": [LSTM, "x[:, -1, :]", {"linear": {"out_features": 2}}]},
        True,
    ),
    "seed001_sequence_output": ({"texts": TEXTS, "steps": [LSTM]}, True),
    "seed001_cls_into_lstm": (
        {
            "texts": TEXTS,
            "steps": ["x[:, 0, :]", "x.unsqueeze(1)", LSTM, "x[:, -1, :]", {"linear": {"out_features": 2}}],
        },
        True,
    ),
    "seed004_transpose": ({**SEED_004, "steps": ["x.transpose(1, 2)", CONV_768]}, False),
    "seed004_permute": ({**SEED_004, "steps": ["x.permute(0, 2, 1)", CONV_768]}, False),
    "seed004_view": ({**SEED_004, "steps": ["x.view(32, 768, 128)", CONV_768]}, False),
    "tiny_conv1d_lstm_chain": (
        {
            "texts": TEXTS,
            "checkpoint": "random:bert-tiny",
            "steps": [
                "x.permute(0, 2, 1)",
                {"conv1d": {"out_channels": 64, "kernel_size": 3, "padding": 1}},
                "x.transpose(1, 2)",
                {"lstm": {"hidden_size": 32, "batch_first": True, "bidirectional": True}},
                "x[:, -1, :]",
                {"linear": {"out_features": 2}},
            ],
            "seed": 3,
        },
        False,
    ),
    "tiny_mean_gru_pad_rearrange": (
        {
            "texts": ["hello world", "a much longer second text with more tokens"],
            "checkpoint": "random:bert-tiny",
            "pooling": "mean",
            "layer": 1,
            "steps": [
                "x.unsqueeze(1)",
                {"gru": {"hidden_size": 16, "batch_first": True}},
                "h_n[-1]",
                "F.pad(x, (0, 2))",
                'rearrange(x, "b h -> h b")',
            ],
        },
        False,
    ),
    "synthetic_pooled_max": (
        {"shape": [3, 7, 16], "pooling": "max", "steps": [{"linear": {"out_features": 5}}]},
        False,
    ),
    "synthetic_gru_unbatched": ({"shape": [5, 12], "steps": [{"gru": {"hidden_size": 6, "num_layers": 2}}]}, False),
    # multi-tensor pipelines (issue 11): names bound by steps, layer input / output / h0 / c0, masks as names
    "tiny_attention_over_lstm_outputs": (
        {
            "texts": [*TEXTS, "a third text, longer than the others, to force padding"],
            "checkpoint": "random:bert-tiny",
            "steps": [
                {"lstm": {"hidden_size": 16, "batch_first": True, "bidirectional": True}, "output": "out, (h, c)"},
                "w = torch.bmm(out, torch.cat([h_n[-2], h_n[-1]], dim=1).unsqueeze(2))",
                "w = torch.softmax(w.masked_fill(mask.unsqueeze(-1) == 0, float('-inf')), 1)",
                "context = torch.bmm(out.transpose(1, 2), w).squeeze(-1)",
                {"linear": {"out_features": 2}, "input": "context", "output": "logits"},
            ],
        },
        False,
    ),
    "synthetic_named_heads_h0_c0": (
        {
            "shape": [3, 6, 8],
            "seed": 2,
            "steps": [
                "q, k = x.chunk(2, dim=-1)",
                "scores = q @ k.transpose(-1, -2) / math.sqrt(q.size(-1))",
                "attn = F.softmax(scores + (1.0 - mask[:, None, :]) * -10000.0, dim=-1)",
                "y = rearrange(attn @ k, 'b l d -> b d l')",
                {
                    "lstm": {"hidden_size": 5, "batch_first": True, "num_layers": 2},
                    "input": "x",
                    "h0": "torch.zeros(2, x.size(0), 5)",
                    "c0": "torch.ones(2, x.size(0), 5)",
                },
                "values, indices = x.max(dim=1)",
            ],
        },
        False,
    ),
    "tiny_masked_mean_by_hand_and_packed_gru": (
        {
            "texts": TEXTS,
            "checkpoint": "random:bert-tiny",
            "steps": [
                "pooled = (x * attention_mask.unsqueeze(-1)).sum(1) / attention_mask.sum(1, keepdim=True)",
                "packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)",
                {"gru": {"hidden_size": 6, "batch_first": True}, "input": "packed", "output": "out, h_last"},
                "torch.cat([h_last[-1], pooled], dim=-1)",
            ],
        },
        False,
    ),
}
POOLINGS = ["cls", "mean", "max", "pooler", "last4_concat", "last4_sum", "first_last_avg"]


def _run(script: str, tmp_path, probe: bool = True) -> subprocess.CompletedProcess:
    if probe:
        final = re.findall(r"^print\(tuple\((\w+)\.shape\)\)", script, flags=re.M)[-1]
        script += f"\nimport json as _json\nprint(_json.dumps({final}.detach().flatten()[:32].tolist()))\n"
    path = tmp_path / "pipeline.py"
    path.write_text(script, encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": ""}
    return subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )


def _check_reproduces(spec: Spec, tmp_path) -> str:
    trace = run_spec(spec, device="cpu", attentions=False)
    assert trace.ok, trace.error
    script = export_script(spec, trace)
    proc = _run(script, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    shape_line, values_line = proc.stdout.strip().splitlines()[-2:]
    assert shape_line == str(tuple(trace.final.shape))
    expected = trace.tensors[-1].detach().float().cpu().flatten()[:32].numpy()
    np.testing.assert_allclose(np.array(json.loads(values_line)), expected, rtol=1e-3, atol=1e-4)
    return script


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if slow else n for n, (_, slow) in SPECS.items()]
)
def test_exported_script_reproduces_the_trace(name, tmp_path):
    _check_reproduces(Spec.from_dict(SPECS[name][0]), tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("pooling", POOLINGS)
def test_pooling_written_out_matches_core_pooling(pooling, tmp_path):
    spec = Spec.from_dict(
        {
            "texts": [*TEXTS, "a third, longer text to force some padding"],
            "checkpoint": "random:bert-mini",
            "pooling": pooling,
        }
    )
    script = _check_reproduces(spec, tmp_path)
    assert f"# pooling: {pooling}" in script


def test_lengths_is_defined_when_a_step_uses_it(tmp_path):
    spec = Spec.from_dict(
        {"texts": TEXTS, "checkpoint": "random:bert-tiny", "steps": [LSTM, "x[torch.arange(x.shape[0]), lengths - 1]"]}
    )
    script = _check_reproduces(spec, tmp_path)
    assert 'lengths = batch["attention_mask"].sum(1)' in script


def test_failing_step_raises_the_same_torch_error(tmp_path):
    spec = Spec.from_dict(
        {
            "shape": [2, 9, 384],
            "steps": [{"conv1d": {"in_channels": 384, "out_channels": 8, "kernel_size": 3}}, "x.flatten(1)"],
        }
    )
    trace = run_spec(spec)
    assert trace.error is not None
    script = export_script(spec, trace)
    assert "✗ fails here on (2, 9, 384)" in script
    assert "# not reached" in script and "# x = x.flatten(1)" in script
    proc = _run(script, tmp_path, probe=False)
    assert proc.returncode != 0
    assert trace.error.message.splitlines()[0] in proc.stderr


def test_every_tensor_line_carries_a_shape_comment():
    spec = Spec.from_dict({**SEED_004, "steps": ["x.transpose(1, 2)", CONV_768, {"lstm": {"hidden_size": 8}}]})
    script = export_script(spec)
    tensor_lines = [ln for ln in script.splitlines() if ln.startswith(("x = ", "x, "))]
    assert len(tensor_lines) == 4
    for line in tensor_lines:
        assert "  # " in line, f"no shape comment: {line}"
        comment = line.split("  # ", 1)[1]
        assert re.search(r"\([A-Za-z_0-9·, ]+\)", comment) and re.search(r"\(\d+(, \d+)*\)", comment), line
    assert "(32, 128, 768) -> (32, 768, 128)" in script
    assert "(32, 768, 128) -> (32, 512, 126)" in script
    assert "L_out = floor(" in script  # the Conv1d length formula
    assert "in_channels=768" in script


def test_inferred_input_sizes_are_filled_in_and_seeds_match_build_layer():
    from core.engine.layers import layer_seed

    spec = Spec.from_dict(
        {"shape": [2, 5, 12], "seed": 4, "steps": [{"lstm": {"hidden_size": 8}}, {"linear": {"out_features": 3}}]}
    )
    script = export_script(spec)
    assert "nn.LSTM(input_size=12, hidden_size=8, batch_first=False)" in script
    assert "nn.Linear(in_features=8, out_features=3)" in script
    assert f"torch.manual_seed({layer_seed(4, 0)})" in script
    assert f"torch.manual_seed({layer_seed(4, 1)})" in script


@pytest.mark.parametrize(
    "title,text",
    [
        ('ends with a quote"', 'a "quoted" text'),
        ("two\nlines\r\nand \u2028 separators", "line\nbreak and \\ backslash"),
        ("'''\"\"\" triple quotes", "\x00 nul and \t tab 🎬"),
    ],
)
def test_user_text_cannot_break_the_script(title, text):
    """Titles go into comments on one line; texts are Python literals: the script always compiles."""
    spec = Spec.from_dict({"texts": [text], "checkpoint": "random:bert-tiny", "title": title, "steps": ["x[:, 0, :]"]})
    script = export_script(spec)
    compile(script, "pipeline.py", "exec")  # syntax check only; nothing is executed
    assert script.splitlines()[0].startswith("# ")


# ------------------------------------------------------------------ loss steps, initial states, named results

LOSS_SPECS: dict[str, dict] = {
    "tiny_labels_cross_entropy": {
        "texts": ["hello world", "a much longer second text"],
        "checkpoint": "random:bert-tiny",
        "pooling": "mean",
        "labels": [1, 0],
        "steps": [{"linear": {"out_features": 2}}, {"loss": {"kind": "CrossEntropyLoss", "label_smoothing": 0.1}}],
    },
    "tiny_per_token_ragged_labels": {
        "texts": ["a b c d", "e f"],
        "checkpoint": "random:bert-tiny",
        "labels": [[0, 1, 2, 1, 0, 0], [0, 2, 1, 0]],
        "steps": [
            {"linear": {"out_features": 3}},
            "x.view(-1, 3)",
            {"loss": {"kind": "CrossEntropyLoss", "weight": [1, 2, 0.5]}, "target": "labels.view(-1)"},
        ],
    },
    "synthetic_bce_multi_hot_target": {
        "shape": [16, 32],
        "seed": 2,
        "steps": [
            {"linear": {"out_features": 3}},
            {
                "loss": {"kind": "BCEWithLogitsLoss", "pos_weight": [1, 2, 3]},
                "target": {"shape": [16, 3], "dtype": "float", "high": 2},
            },
        ],
    },
    "synthetic_lstm_h0_nll": {
        "shape": [4, 7, 16],
        "labels": [0, 2, 1, 2],
        "steps": [
            {
                "lstm": {"hidden_size": 8, "batch_first": True},
                "h0": "torch.zeros(1, x.size(0), 8)",
                "c0": "torch.ones(1, x.size(0), 8)",
            },
            "last = h_n[-1]",
            {"linear": {"out_features": 3}, "input": "last"},
            "x.log_softmax(dim=-1)",
            {"loss": {"kind": "NLLLoss", "reduction": "sum"}},
        ],
    },
    "synthetic_mse_regression": {
        "shape": [5, 12],
        "labels": [0.5, 1.0, -2.0, 3.5, 0.0],
        "steps": [
            {"gru": {"hidden_size": 6}, "input": "x", "output": "out, h_n"},
            "out.mean(dim=-1)",
            {"loss": "MSELoss"},
        ],
    },
}


@pytest.mark.parametrize("name", list(LOSS_SPECS))
def test_exported_loss_script_gives_the_same_loss(name, tmp_path):
    spec = Spec.from_dict(LOSS_SPECS[name])
    trace = run_spec(spec, device="cpu", attentions=False)
    assert trace.ok, trace.error
    script = export_script(spec, trace)
    assert "loss = loss_fn" in script
    proc = _run(script, tmp_path, probe=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    shape_line, value_line = proc.stdout.strip().splitlines()[-2:]
    assert shape_line == "()"
    assert float(value_line) == pytest.approx(trace.stages[-1].extra("value"), rel=1e-5, abs=1e-6)


def test_exported_initial_states_and_names_are_written_into_the_calls():
    script = export_script(Spec.from_dict(LOSS_SPECS["synthetic_lstm_h0_nll"]))
    assert "x, (h_n, c_n) = lstm1(x, (torch.zeros(1, x.size(0), 8), torch.ones(1, x.size(0), 8)))" in script
    assert "\nlast = h_n[-1]  # " in script and "x = linear3(last)" in script
    assert "labels = torch.tensor([0, 2, 1, 2], dtype=torch.long)" in script
    gru = export_script(Spec.from_dict(LOSS_SPECS["synthetic_mse_regression"]))
    assert (
        "out, h_n = gru1(x)" in gru and "labels = torch.tensor([0.5, 1.0, -2.0, 3.5, 0.0], dtype=torch.float32)" in gru
    )


def test_exported_failing_loss_raises_the_same_error(tmp_path):
    spec = Spec.from_dict(
        {
            "shape": [16, 32],
            "steps": [
                {"linear": {"out_features": 4}},
                {"loss": {"kind": "BCEWithLogitsLoss"}, "target": {"shape": [16, 3], "dtype": "float", "high": 2}},
            ],
        }
    )
    trace = run_spec(spec)
    script = export_script(spec, trace)
    assert "# fix: set out_features=3 on step 1" in script
    proc = _run(script, tmp_path, probe=False)
    assert proc.returncode != 0 and trace.error.message.splitlines()[0] in proc.stderr
