"""The seeds' correct examples (shared/seeds/*.txt) as specs: no diagnosis may flag them (no false alarms).

Synthetic ones run without a model; the model ones run on random:bert-tiny in the quick loop and on the bundled
model in the slow one.
"""

from __future__ import annotations

TEXTS = ["short one", "a somewhat longer text with many more words in it", "mid length text here"]

CORRECT = [
    ("000-reshape-16", {"shape": [32, 128, 768], "steps": ["x.reshape(x.shape[0], 16, -1)"]}),
    ("000-reshape-explicit", {"shape": [32, 128, 768], "steps": ["x.reshape(32, 16, (128 * 768) // 16)"]}),
    ("000-pad-then-reshape", {"shape": [32, 125, 768], "steps": ["F.pad(x, (0, 0, 0, 3))", "x.reshape(32, 16, 6144)"]}),
    (
        "004-transpose-conv",
        {
            "shape": [32, 128, 768],
            "steps": [
                "torch.transpose(x, 1, 2)",
                {"conv1d": {"in_channels": 768, "out_channels": 512, "kernel_size": 3}},
            ],
        },
    ),
    (
        "004-permute-conv",
        {
            "shape": [32, 128, 768],
            "steps": ["x.permute(0, 2, 1)", {"conv1d": {"in_channels": 768, "out_channels": 512, "kernel_size": 3}}],
        },
    ),
    (
        "003-lstm-last-step",
        {
            "shape": [32, 10, 128],
            "steps": [{"lstm": {"input_size": 128, "hidden_size": 64, "batch_first": True}}, "x[:, -1, :]"],
        },
    ),
    ("003-flatten", {"shape": [32, 10, 64], "steps": ["x.reshape(32, 10 * 64)"]}),
    ("003-flatten-alt", {"shape": [32, 10, 64], "steps": ["x.flatten(1)"]}),
    (
        "003-permute-for-conv",
        {
            "shape": [32, 10, 64],
            "steps": [
                "x.permute(0, 2, 1)",
                "x.reshape(32, 64, 10)",
                {"conv1d": {"in_channels": 64, "out_channels": 1, "kernel_size": 3, "padding": 1}},
            ],
        },
    ),
    ("002-cls-synthetic", {"shape": [1, 9, 768], "steps": ["x[:, 0, :]"]}),
    ("002-mean-synthetic", {"shape": [1, 9, 768], "pooling": "mean"}),
]

CORRECT_MODEL = [
    (
        "001-bert-lstm-linear",
        {
            "texts": ["This is an example sentence."],
            "steps": [
                {"lstm": {"hidden_size": 128, "num_layers": 2, "batch_first": True}},
                "x[:, -1, :]",
                {"linear": {"out_features": 2}},
            ],
        },
    ),
    (
        "001-bert-lstm-sequence",
        {
            "texts": ["This is another example sequence of words."],
            "steps": [{"lstm": {"hidden_size": 128, "num_layers": 2, "batch_first": True}}],
        },
    ),
    (
        "001-cls-unsqueeze-lstm",
        {
            "texts": ["This is a single sentence for the CLS example"],
            "steps": [
                "x[:, 0, :]",
                "x.unsqueeze(1)",
                {"lstm": {"hidden_size": 128, "num_layers": 2, "batch_first": True}},
                "x[:, -1, :]",
                {"linear": {"out_features": 2}},
            ],
        },
    ),
    ("002-cls", {"texts": ["This movie was absolutely amazing!"], "pooling": "cls"}),
    ("002-mean", {"texts": ["The acting was very poor and the plot was confusing."], "pooling": "mean"}),
    ("002-last4-concat", {"texts": ["I found the book to be quite interesting."], "pooling": "last4_concat"}),
    (
        "padded-batch-done-right",
        {
            "texts": TEXTS,
            "steps": [
                {"lstm": {"hidden_size": 16, "batch_first": True}},
                "x[torch.arange(x.shape[0]), lengths - 1]",
                {"linear": {"out_features": 2}},
            ],
        },
    ),
    (
        "004-bert-permute-conv",
        {
            "texts": ["a b c d e f"],
            "steps": ["x.permute(0, 2, 1)", {"conv1d": {"out_channels": 512, "kernel_size": 3}}],
        },
    ),
    (
        "002-masked-mean-written-out",
        {
            "texts": TEXTS,
            "steps": [
                "x = x * mask.unsqueeze(-1).float()",
                "torch.sum(x, dim=1) / torch.clamp(mask.unsqueeze(-1).float().sum(dim=1), min=1e-9)",
            ],
        },
    ),
    (
        "002-masked-mean-one-line",
        {"texts": TEXTS, "steps": ["(x * mask.unsqueeze(-1)).sum(dim=1) / mask.sum(dim=1, keepdim=True)"]},
    ),
]
