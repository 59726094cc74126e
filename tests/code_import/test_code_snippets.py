"""A table of snippets in the styles people write, each with the shape every marked line must show.

Functional scripts, nn.Module classes (sizes from defaults and from the instantiation below), Sequential
blocks, ModuleList loops, helpers with tuple-unpacked sizes, dropout / activations, classifier heads on
BERT, sentence-transformers' mean pooling, TensorFlow and Keras. The expected shapes are worked out by
hand from torch's documented rules (independent of the importer), and every statement must be understood.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from core.code_import import LineStatus, import_code
from core.code_import.annotate import trace_code

HEAD = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


@dataclass
class Case:
    code: str
    shapes: dict[str, tuple[int, ...]]  # a fragment of the line -> the shape annotated on it
    steps: list | None = None  # the exact spec steps, when they do not depend on the engine's growth
    spec: dict = field(default_factory=dict)  # other spec fields to check


CASES = {
    "functional-script": Case(
        HEAD + "x = torch.randn(8, 20, 300)\nx = x.transpose(1, 2)\nx = F.pad(x, (1, 1))\nx = x.mean(dim=-1)\n"
        "print(x.shape)\n",
        {"randn": (8, 20, 300), "transpose": (8, 300, 20), "F.pad": (8, 300, 22), "mean": (8, 300)},
        ["x.transpose(1, 2)", "F.pad(x, (1, 1))", "x.mean(dim=-1)"],
    ),
    "module-with-defaults-and-instantiation": Case(
        HEAD
        + """
class CNN(nn.Module):
    def __init__(self, emb=768, filters=100, k=3, classes=4):
        super().__init__()
        self.conv = nn.Conv1d(emb, filters, k, padding=1)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(filters, classes)

    def forward(self, x):
        x = x.permute(0, 2, 1)
        x = F.relu(self.conv(x))
        x = x.amax(dim=2)
        x = self.drop(x)
        return self.fc(x)

model = CNN(filters=64)
model.eval()
emb = torch.randn(16, 50, 768)
logits = model(emb)
""",
        {
            "permute": (16, 768, 50),
            "F.relu": (16, 64, 50),
            "amax": (16, 64),
            "self.drop(x)": (16, 64),
            "return self.fc": (16, 4),
            "logits = model": (16, 4),
            "nn.Conv1d(": (16, 64, 50),
        },
    ),
    "sequential-head": Case(
        HEAD
        + """head = nn.Sequential(
    nn.Linear(768, 256),
    nn.Tanh(),
    nn.Dropout(0.1),
    nn.Linear(256, 3),
)
pooled = torch.randn(4, 768)
out = head(pooled)
""",
        {"out = head": (4, 3), "pooled =": (4, 768)},
    ),
    "bert-classifier-head": Case(
        HEAD
        + """from transformers import AutoTokenizer, AutoModel
tok = AutoTokenizer.from_pretrained("bert-base-uncased")
bert = AutoModel.from_pretrained("bert-base-uncased")
dropout = nn.Dropout(0.1)
classifier = nn.Linear(bert.config.hidden_size, 5)
texts = ["first text", "a second, longer text here"]
batch = tok(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
out = bert(**batch)
cls = out.last_hidden_state[:, 0]
logits = classifier(dropout(cls))
""",
        {"cls =": (2, 768), "logits =": (2, 5)},
        ["x[:, 0]", {"linear": {"in_features": 768, "out_features": 5}}],
        {"checkpoint": "random:bert-base", "max_length": 64},
    ),
    "helper-with-unpacked-sizes": Case(
        HEAD
        + """def split_heads(t, heads):
    b, l, h = t.shape
    return t.view(b, l, heads, h // heads).transpose(1, 2)

x = torch.randn(2, 10, 768)
y = split_heads(x, 12)
""",
        {"return t.view": (2, 12, 10, 64), "y = split_heads": (2, 12, 10, 64)},
        ["x.view(x.shape[0], x.shape[1], 12, x.shape[2] // 12).transpose(1, 2)"],
    ),
    "bilstm-final-states": Case(
        HEAD
        + """lstm = nn.LSTM(input_size=300, hidden_size=64, num_layers=2, batch_first=True, bidirectional=True)
x = torch.randn(8, 20, 300)
out, (h_n, c_n) = lstm(x)
final = torch.cat((h_n[-2], h_n[-1]), dim=1)
""",
        {"out, (h_n": (8, 20, 128), "final =": (8, 128)},
    ),
    "time-major-gru": Case(
        HEAD + "gru = nn.GRU(128, 32)\nseq = torch.randn(15, 4, 128)\noutput, hidden = gru(seq)\nlast = output[-1]\n",
        {"output, hidden": (15, 4, 32), "last =": (4, 32)},
        [{"gru": {"input_size": 128, "hidden_size": 32}}, "x[-1]"],
    ),
    "modulelist-loop": Case(
        HEAD
        + """class Stack(nn.Module):
    def __init__(self, width=64, depth=3):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(width, width) for _ in range(depth)])

    def forward(self, x):
        for layer in self.layers:
            x = torch.relu(layer(x))
        return x

m = Stack()
y = m(torch.randn(5, 64))
""",
        {"x = torch.relu": (5, 64), "y = m(": (5, 64)},
    ),
    "sentence-transformers-mean-pooling": Case(
        HEAD
        + """from transformers import AutoTokenizer, AutoModel

def mean_pooling(model_output, attention_mask):
    token_embeddings = model_output[0]
    input_mask_expanded = attention_mask.unsqueeze(-1).expand(token_embeddings.size()).float()
    return torch.sum(token_embeddings * input_mask_expanded, 1) / torch.clamp(input_mask_expanded.sum(1), min=1e-9)

sentences = ['This is an example sentence', 'Each sentence is converted']
tokenizer = AutoTokenizer.from_pretrained('sentence-transformers/all-MiniLM-L6-v2')
model = AutoModel.from_pretrained('sentence-transformers/all-MiniLM-L6-v2')
encoded_input = tokenizer(sentences, padding=True, truncation=True, return_tensors='pt')
with torch.no_grad():
    model_output = model(**encoded_input)
sentence_embeddings = mean_pooling(model_output, encoded_input['attention_mask'])
sentence_embeddings = F.normalize(sentence_embeddings, p=2, dim=1)
""",
        {
            "sentence_embeddings = mean_pooling": (2, 384),
            "input_mask_expanded = attention_mask": (2, 7, 384),  # [CLS] this is an example sentence [SEP]
            "F.normalize": (2, 384),
        },
        spec={"checkpoint": "bundled:all-MiniLM-L6-v2", "pooling": "none"},
    ),
    "tensorflow-ops": Case(
        """import tensorflow as tf
x = tf.random.normal((4, 10, 32))
y = tf.transpose(x, perm=[0, 2, 1])
z = tf.reduce_mean(y, axis=-1)
w = tf.expand_dims(z, 1)
""",
        {"y = tf.transpose": (4, 32, 10), "z = tf.reduce_mean": (4, 32), "w = tf.expand_dims": (4, 1, 32)},
        ["x.permute(0, 2, 1)", "x.mean(dim=-1)", "x.unsqueeze(1)"],
    ),
    "keras-layers": Case(
        """import tensorflow as tf
x = tf.random.normal((2, 7, 16))
h = tf.keras.layers.LSTM(8)(x)
y = tf.keras.layers.Dense(3)(h)
""",
        {"h = tf.keras": (2, 8), "y = tf.keras": (2, 3)},
        [{"lstm": {"hidden_size": 8, "batch_first": True}}, "x[:, -1, :]", {"linear": {"out_features": 3}}],
    ),
    "class-never-built": Case(
        HEAD
        + """class Tagger(nn.Module):
    def __init__(self, hidden=256, tags=9):
        super().__init__()
        self.lstm = nn.LSTM(768, hidden, batch_first=True)
        self.out = nn.Linear(hidden, tags)

    def forward(self, x):
        h, _ = self.lstm(x)
        return self.out(h)
""",
        {"h, _ = self.lstm": (2, 16, 256), "return self.out": (2, 16, 9)},
        spec={"shape": [2, 16, 768]},
    ),
    "attention-over-lstm": Case(
        HEAD
        + """lstm = nn.LSTM(768, 128, batch_first=True)
x = torch.randn(4, 12, 768)
out, (h_n, c_n) = lstm(x)
w = torch.bmm(out, h_n[-1].unsqueeze(2))
w = torch.softmax(w, 1)
context = torch.bmm(out.transpose(1, 2), w).squeeze(2)
""",
        {"w = torch.bmm": (4, 12, 1), "w = torch.softmax": (4, 12, 1), "context =": (4, 128)},
    ),
    "classifier-with-loss": Case(
        HEAD
        + """model = nn.Sequential(nn.Linear(768, 64), nn.ReLU(), nn.Linear(64, 3))
x = torch.randn(8, 768)
labels = torch.randint(0, 3, (8,))
criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
logits = model(x)
loss = criterion(logits, labels)
loss.backward()
""",
        {"logits = model(x)": (8, 3), "loss = criterion": ()},
        spec={
            "steps": [
                {"linear": {"in_features": 768, "out_features": 64}},
                "F.relu(x)",
                {"linear": {"in_features": 64, "out_features": 3}},
                {
                    "loss": {"kind": "CrossEntropyLoss", "label_smoothing": 0.1},
                    "target": {"shape": [8], "dtype": "long", "high": 3},
                },
            ]
        },
    ),
    "bert-head-with-labels": Case(
        HEAD
        + """from transformers import AutoTokenizer, AutoModel
tok = AutoTokenizer.from_pretrained("bert-base-uncased")
bert = AutoModel.from_pretrained("bert-base-uncased")
head = nn.Linear(768, 2)
batch = tok(["great film", "dull and long"], padding=True, return_tensors="pt")
labels = torch.tensor([1, 0])
logits = head(bert(**batch).last_hidden_state[:, 0])
loss = F.cross_entropy(logits, labels, reduction="sum")
""",
        {"logits = head": (2, 2), "loss = F.cross_entropy": ()},
        spec={
            "labels": [1, 0],
            "steps": [
                "x[:, 0]",
                {"linear": {"in_features": 768, "out_features": 2}},
                {"loss": {"kind": "CrossEntropyLoss", "reduction": "sum"}, "target": "labels"},
            ],
        },
    ),
    "per-token-labels-multi-hot": Case(
        HEAD
        + """x = torch.randn(4, 5, 16)
tagger = nn.Linear(16, 6)
tags = tagger(x)
targets = torch.randint(0, 2, (4, 5, 6)).float()
loss = nn.BCEWithLogitsLoss()(tags, targets)
""",
        {"tags = tagger": (4, 5, 6), "loss = nn.BCEWithLogitsLoss": ()},
    ),
    "residual": Case(
        HEAD + "fc = nn.Linear(64, 64)\nx = torch.randn(3, 64)\nh = fc(x)\ny = h + x\n",
        {"h = fc": (3, 64), "y = h + x": (3, 64)},
    ),
}


@pytest.fixture(scope="module")
def checkpoints():
    from core.model.checkpoints import load_checkpoint

    loaded: dict[str, object] = {}

    def get(spec):
        if spec is None or not spec.uses_model:
            return None
        if spec.checkpoint not in loaded:
            loaded[spec.checkpoint] = load_checkpoint(spec.checkpoint, "cpu")
        return loaded[spec.checkpoint]

    return get


@pytest.mark.parametrize("name", list(CASES))
def test_snippet_imports_and_traces_to_its_shapes(name, checkpoints):
    case = CASES[name]
    imported = import_code(case.code)
    assert imported.spec is not None, imported.problem
    assert [(n.line, n.reason) for n in imported.lines if n.status is LineStatus.NOT_UNDERSTOOD] == []
    result = trace_code(case.code, ckpt=checkpoints(imported.spec), imported=imported)
    assert result.trace.error is None, result.trace.error
    lines = case.code.splitlines()
    for fragment, shape in case.shapes.items():
        number = next(i for i, text in enumerate(lines, 1) if fragment in text)
        line = next(a for a in result.lines if a.line <= number <= a.end_line)
        assert line.shape == shape, (fragment, line)
    spec = imported.spec.to_dict()
    if case.steps is not None:
        assert spec["steps"] == case.steps
    for key, value in case.spec.items():
        assert spec[key] == value, key


def test_statements_without_tensor_effect_say_why():
    code = HEAD + "model = nn.Linear(4, 2)\nmodel.eval()\nx = torch.randn(3, 4)\ny = model(x)\nprint(y.shape)\n"
    notes = {n.line: n for n in import_code(code).lines}
    assert notes[1].status is LineStatus.NO_EFFECT and notes[1].reason == "import"
    assert notes[5].status is LineStatus.NO_EFFECT and "no effect on shapes" in notes[5].reason
    assert notes[8].status is LineStatus.NO_EFFECT and notes[8].reason.startswith("print")
    assert notes[4].status is LineStatus.STAGE and notes[4].what == "layer"


BUGGY_MEAN = """import torch
from transformers import AutoTokenizer, AutoModel
tokenizer = AutoTokenizer.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
model = AutoModel.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
inputs = tokenizer(["a short one", "a much longer second sentence here"], padding=True, return_tensors="pt")
with torch.no_grad():
    out = model(**inputs)
emb = out.last_hidden_state
mask = inputs["attention_mask"]
summed = (emb * mask).sum(1)
mean = summed / mask.sum(1, keepdim=True)
"""


def test_a_buggy_masked_mean_stays_steps_and_fails_like_torch(checkpoints):
    """Without mask.unsqueeze(-1) the idiom is not the app's pooling: it stays steps and fails on its line."""
    imported = import_code(BUGGY_MEAN)
    assert imported.spec.pooling.value == "none"
    result = trace_code(BUGGY_MEAN, ckpt=checkpoints(imported.spec), imported=imported)
    line = next(a for a in result.lines if a.line == 10)
    assert line.error is not None
    assert "must match the size of tensor b" in line.error["message"]


def test_a_hand_written_masked_mean_is_the_apps_mean_kept_as_steps_or_marked_as_pooling(checkpoints):
    """README "Paste your code": the sentence-transformers mean_pooling stays steps (each line its shape) with a
    note that it is the app's pooling 'mean' — and the note is true: its last tensor equals the app's pooling
    'mean' of the same texts. Marked ``# pooling: mean`` (as the export writes it), it is that pooling stage."""
    import torch

    from core.trace import run_spec

    code = CASES["sentence-transformers-mean-pooling"].code.replace(
        "sentence_embeddings = F.normalize(sentence_embeddings, p=2, dim=1)\n", ""
    )
    imported = import_code(code)
    assert imported.spec.pooling.value == "none" and imported.spec.steps
    assert any("the same as the app's pooling 'mean'" in n and "kept as steps" in n for n in imported.notes)
    ckpt = checkpoints(imported.spec)
    steps = trace_code(code, ckpt=ckpt, imported=imported).trace
    app_mean = run_spec(imported.spec.replace(pooling="mean", steps=[]), checkpoint=ckpt)
    torch.testing.assert_close(steps.tensors[-1], app_mean.tensors[-1], rtol=1e-5, atol=1e-6)
    marked = import_code(code.replace("def mean_pooling(", "# pooling: mean\ndef mean_pooling("))
    assert marked.spec.pooling.value == "mean" and marked.spec.steps == ()
