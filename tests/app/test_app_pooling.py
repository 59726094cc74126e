"""AppTest of pages/pooling.py: defaults, one-click samples, cached switching, uploads and pastes refused clearly."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import APP_TIMEOUT, ROOT
from tests.markdown_text import shown

PAGE = str(ROOT / "pages" / "pooling.py")


@pytest.fixture
def at() -> AppTest:
    st.cache_data.clear()  # each test starts from an empty comparison cache
    app = AppTest.from_file(PAGE, default_timeout=APP_TIMEOUT)
    app.run()
    assert not app.exception, app.exception
    return app


def bundled():
    from core.model.checkpoints import load_checkpoint
    from core.spec import DEFAULT_CHECKPOINT

    return load_checkpoint(DEFAULT_CHECKPOINT, "auto")  # the instance the page's cache_resource holds


def charts(app: AppTest) -> int:
    return len(app.get("plotly_chart"))


def markdown(app: AppTest) -> str:
    return "\n".join(m.value for m in app.markdown)


def load(app: AppTest, sample: str = "sentiment") -> AppTest:
    app.button(key=f"po_sample_{sample}").click().run()
    assert not app.exception, app.exception
    return app


def test_defaults_ask_for_texts_and_encode_nothing(at):
    assert at.title[0].value == "Pooling comparison"
    assert "Load a sample set above" in at.info[0].value
    assert charts(at) == 0 and not at.error
    assert at.pills(key="po_strategies").value == [s for s in at.pills(key="po_strategies").options]


def test_sample_loads_with_one_click_and_shows_every_section(at):
    load(at)
    assert [h.value for h in at.subheader] == [
        "Separation scores",
        "PCA of each strategy (2-D)",
        "Cosine similarity",
        "Token vectors across layers",
        "Export",
    ]
    assert charts(at) == 7 + 7 + 1  # a scatter and a heatmap per strategy, the token view
    table = at.dataframe[0].value
    assert list(table.index) == ["cls", "mean", "max", "pooler", "last4_concat", "last4_sum", "first_last_avg"]
    assert (table["best"] == "★ best").sum() == 1 and table.loc["mean", "best"] == "★ best"
    text = markdown(at)
    assert "**Best: mean**" in text and "chance level of **0.50**" in text
    assert "Probe accuracy" in at.expander[-1].markdown[0].value  # SCORES_HELP behind "What do these…"
    assert any("40 texts" in c.value and "chance level 0.50" in c.value for c in at.caption)
    assert at.text_area(key="po_text").value.startswith("positive\t")  # the sample is editable text
    assert len(at.get("download_button")) == 2


def test_switching_strategies_and_3d_never_re_encode(at):
    load(at, "topics")
    ckpt = bundled()
    calls = ckpt.forward_calls
    at.toggle(key="po_3d").set_value(True).run()
    assert not at.exception
    assert at.subheader[1].value == "PCA of each strategy (3-D)"
    at.pills(key="po_strategies").set_value(["mean", "cls"]).run()
    assert not at.exception
    assert charts(at) == 2 + 2 + 1
    assert list(at.dataframe[0].value.index) == ["cls", "mean"]
    at.toggle(key="po_3d").set_value(False).run()
    at.pills(key="po_strategies").set_value(["max", "last4_concat", "pooler"]).run()
    assert not at.exception and charts(at) == 3 + 3 + 1
    assert ckpt.forward_calls == calls  # every switch above came from the cache
    at.selectbox(key="po_layer").set_value(3).run()  # the layer is part of the cache key
    assert not at.exception and ckpt.forward_calls == calls + 1
    assert any("layer 3" in c.value for c in at.caption)


def test_no_strategy_picked_says_so(at):
    load(at)
    at.pills(key="po_strategies").set_value([]).run()
    assert not at.exception and charts(at) == 0
    assert "Pick at least one pooling strategy" in at.warning[0].value


def test_pasted_texts_with_and_without_labels(at):
    at.text_area(key="po_text").set_value("good\tLovely film.\ngood\tGreat cast.\nbad\tBoring.\nbad\tAwful plot.")
    at.button(key="FormSubmitter:po_paste_form-Compare these texts").click().run()
    assert not at.exception and not at.error
    assert at.dataframe[0].value.shape[0] == 7 and charts(at) == 15

    at.text_area(key="po_text").set_value("one plain text\nanother plain text\n\na third")
    at.button(key="FormSubmitter:po_paste_form-Compare these texts").click().run()
    assert not at.exception
    assert "probe accuracy" not in at.dataframe[0].value.columns
    assert any("No labels, so no separation scores" in i.value for i in at.info)
    assert any("1 blank line(s) skipped" in i.value for i in at.info)


def test_malformed_paste_is_refused_with_the_line(at):
    at.text_area(key="po_text").set_value("pos\tfine\nthis line has no label")
    at.button(key="FormSubmitter:po_paste_form-Compare these texts").click().run()
    assert not at.exception and charts(at) == 0
    assert "The pasted text was refused" in shown(at.error[0].value) and "line(s) 2 have no tab" in shown(
        at.error[0].value
    )


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("wrong.csv", b"sentence,score\nhello,1\n", "wrong columns: no 'text' column"),
        ("empty.csv", b"", "the file is empty"),
        ("garbage.csv", bytes(range(256)) * 64, "looks binary"),
        ("huge.csv", b"text\n" + b"x" * 10_000_000, "too big: 10.0 MB; the limit is 2.0 MB"),
    ],
)
def test_bad_upload_is_refused_with_a_clear_message(at, name, data, fragment):
    at.file_uploader(key="po_upload").set_value((name, data, "text/csv")).run()
    assert not at.exception
    assert charts(at) == 0
    assert f"The file {name} was refused" in shown(at.error[0].value)
    assert fragment in shown(at.error[0].value)


def test_good_upload_replaces_a_sample(at):
    load(at)
    rows = "label,text\n" + "".join(f"{'ab'[i % 2]},text number {i}\n" for i in range(10))
    at.file_uploader(key="po_upload").set_value(("mine.csv", rows.encode(), "text/csv")).run()
    assert not at.exception and not at.error
    assert any("file mine.csv: 10 texts, 2 labels" in shown(c.value) for c in at.caption)
    assert charts(at) == 15


def test_random_checkpoint_is_labelled_and_skips_what_it_cannot_do(at):
    at.selectbox(key="model_choice").set_value("random:bert-tiny").run()
    load(at)
    assert "RANDOM weights" in at.warning[0].value
    assert any("Not available on this checkpoint" in i.value and "last4_concat" in i.value for i in at.info)
    assert list(at.dataframe[0].value.index) == ["cls", "mean", "max", "pooler", "first_last_avg"]
