"""Nothing is skipped silently: every statement gets a status, and each way of not understanding a line
says why, in words pinned here (one row per error path of the importer)."""

from __future__ import annotations

import pytest

from core.code_import import LineStatus, import_code

HEAD = "import torch\nimport torch.nn as nn\nx = torch.randn(4, 6, 8)\n"
BERT = (
    "from transformers import AutoTokenizer, AutoModel\n"
    "tok = AutoTokenizer.from_pretrained('bert-base-uncased')\n"
    "model = AutoModel.from_pretrained('bert-base-uncased')\n"
    "inputs = tok('a text', return_tensors='pt')\n"
    "out = model(**inputs)\n"
)

# (the code before, the code whose line is not understood, a fragment of the reason)
ROWS = [
    (HEAD, "while x.shape[0] > 1:\n    x = x[1:]", "while loops are not unrolled"),
    (HEAD, "from my_helpers import prepare\ny = prepare(x)", "`prepare` comes from code not understood on line 4"),
    (HEAD, "import my_helpers", "module `my_helpers` is not part of the paste"),
    (HEAD, "y = undefined_name.view(2, 3)", "`undefined_name` is not defined in the pasted code"),
    (HEAD, "if x.sum() > 0:\n    y = x", "the truth of a tensor depends on its values"),
    (HEAD, "if x.sum() > 0:\n    y = x", "inside a statement not understood (line 4)"),
    (BERT, "h = out.last_hidden_state\nif h.shape[1] > 10:\n    h = h[:, :10]",
     "`h.shape[1] > 10` depends on values the importer cannot know"),
    (HEAD, "for batch in loader:\n    y = batch", "inside a statement not understood (line 4)"),
    (HEAD, "emb = nn.Embedding(100, 8)", "nn.Embedding is not a step here"),
    (HEAD, "rnn = nn.RNN(8, 4)", "nn.RNN is not a layer step here; LSTM and GRU are"),
    (HEAD, "att = nn.MultiheadAttention(8, 2)", "nn.MultiheadAttention is not a layer the app runs"),
    (HEAD, "lstm = nn.LSTM(8, 4, foo=3)",
     "nn.LSTM has no parameter `foo` (torch: __init__() got an unexpected keyword"),
    (HEAD, "n = int(input())\nlin = nn.Linear(8, n)", "`input` reaches outside the tensors"),
    (HEAD, "loss = nn.CrossEntropyLoss()(x[:, 0], x[:, 1])", "the loss target must be literal labels"),
    (HEAD, "loss = nn.CrossEntropyLoss()(x[:, 0], torch.tensor([1, 0]))", "'labels' has 2 entries but there are 4"),
    (HEAD, "loss = nn.CrossEntropyLoss(weight=w)(x[:, 0], torch.tensor([1, 0, 1, 0]))", "`w` is not defined"),
    (HEAD, "y = x.tolist()[0]", "indexing an object is not understood"),
    (HEAD, "y = [t for t in range(1000)]", "a range of 1000 numbers is more than the importer unrolls"),
    (HEAD, "x.uniform_()", "the expression language refuses `x.uniform_()`"),
    (HEAD, "a, b = x.shape", "x.shape has 3 sizes; it cannot be unpacked into 2 names"),
    (BERT, "h = out.hidden_states[-2]", "outputs.hidden_states is None unless the model is loaded or called with"),
    (BERT, "a = out.attentions", "attentions are shown in the app's attention panel"),
    (BERT, "e = model.embeddings(inputs['input_ids'])", "running `model.embeddings` on its own is not traced"),
    (BERT, "other = model(**tok('another text', return_tensors='pt'))", "a second forward pass"),
    (BERT, "t = inputs['token_type_ids']", "token_type_ids is not a name the pipeline's steps can read"),
    ("from transformers import AutoModelForSequenceClassification\n",
     "m = AutoModelForSequenceClassification.from_pretrained('bert-base-uncased')", "adds a task head"),
    ("from sentence_transformers import SentenceTransformer\n", "m = SentenceTransformer('all-MiniLM-L6-v2')",
     "SentenceTransformer runs its own pooling"),
    ("import tensorflow as tf\nx = tf.random.normal((2, 3, 4))\n", "y = tf.transpose(tf.identity(x))",
     "tf.identity(…) has no torch translation here"),
    ("import tensorflow as tf\nx = tf.random.normal((2, 3, 4))\n",
     "y = tf.pad(x, [[0, 0], [0, 1], [0, 0]], 'SYMMETRIC')",
     "tf.pad mode SYMMETRIC has no faithful torch equivalent"),
    ("import tensorflow as tf\nx = tf.random.normal((2, 3, 4))\n",
     "y = tf.keras.layers.LSTM(4, return_state=True)(x)", "return_state=True has no direct translation"),
]  # fmt: skip


@pytest.mark.parametrize(("head", "code", "fragment"), ROWS, ids=[r[2][:40] for r in ROWS])
def test_not_understood_says_why(head, code, fragment):
    result = import_code(head + code + "\n")
    first = head.count("\n") + 1
    notes = [n for n in result.lines if n.line >= first]
    found = [n for n in notes if fragment in n.reason]
    assert found, [(n.line, n.status.value, n.reason) for n in notes]
    assert all(n.status is LineStatus.NOT_UNDERSTOOD for n in found)


@pytest.mark.parametrize("head", [HEAD, BERT])
def test_every_statement_and_comment_has_exactly_one_note(head):
    tail = "# a comment\n\ndef unused(t):\n    return t.T\n\nclass Unused:\n"
    tail += "    def forward(self, t):\n        return t\n"
    source = head + tail
    result = import_code(source)
    covered: list[int] = []
    for n in result.lines:
        covered.extend(range(n.line, n.end_line + 1))
    assert len(covered) == len(set(covered)), "no line is claimed twice"
    code_lines = [i for i, text in enumerate(source.splitlines(), 1) if text.strip()]
    assert set(code_lines) <= set(covered), "every non-blank line has a note"
    unused = [n for n in result.lines if "never calls" in n.reason]
    assert unused and all(n.status is LineStatus.NO_EFFECT for n in unused)


def test_notebook_magics_and_prompts_are_not_python_but_not_lost():
    result = import_code("!pip install torch\n%matplotlib inline\nimport torch\nx = torch.randn(2, 3)\n")
    notes = {n.line: n for n in result.lines}
    assert "notebook magic" in notes[1].reason and notes[1].status is LineStatus.NO_EFFECT
    assert result.spec is not None and result.spec.shape == (2, 3)
    session = import_code(">>> import torch\n>>> x = torch.randn(4, 5)\n>>> x.T.shape\ntorch.Size([5, 4])\n")
    assert session.spec is not None and session.spec.to_dict()["steps"] == ["x.T"]
    assert "output of an interactive session" in session.note_at(4).reason


def test_checkpoint_stand_in_and_choices_are_labelled():
    result = import_code(BERT + "h = out.last_hidden_state\n")
    assert result.checkpoint_named == "bert-base-uncased"
    assert [c for c, _ in result.checkpoint_choices] == ["random:bert-base", "bundled:all-MiniLM-L6-v2",
                                                         "bert-base-uncased"]  # fmt: skip
    labels = dict(result.checkpoint_choices)
    assert "RANDOM weights" in labels["random:bert-base"] and "real weights" in labels["bundled:all-MiniLM-L6-v2"]
    assert any("not available offline" in n and "random:bert-base stands in" in n for n in result.notes)
    assert import_code(BERT, checkpoint="bundled:all-MiniLM-L6-v2").spec is None  # no tensor read: nothing to trace
    bundled = import_code(BERT + "h = out.last_hidden_state[:, 0]\n", checkpoint="bundled:all-MiniLM-L6-v2")
    assert bundled.spec.checkpoint == "bundled:all-MiniLM-L6-v2"
