"""The sidebar's checkpoint picker on a shared server: a link never loads or downloads what the server has
not approved; the visitor sees what it asks for (and its size, online) and decides; refusals all read alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.export.share import PARAM, encode_spec
from core.model.checkpoint_access import HubSize
from core.spec import DEFAULT_CHECKPOINT, Spec
from tests.app.conftest import pick_checkpoint
from ui.safe_text import text

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120
OTHER = "other (Hugging Face id or local folder)…"


@pytest.fixture
def model_root(tmp_path, tiny_ckpt, monkeypatch):
    folder = tmp_path / "models" / "tiny-local"
    tiny_ckpt.model.save_pretrained(folder)
    tiny_ckpt.tokenizer.save_pretrained(folder)
    monkeypatch.setenv("SHAPE_EXPLORER_MODEL_ROOTS", str(folder.parent))
    return folder


def _link(checkpoint: str) -> AppTest:
    spec = Spec.from_dict({"texts": ["a short text"], "checkpoint": checkpoint, "steps": ["x.mean(dim=1)"]})
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params[PARAM] = encode_spec(spec)
    at.switch_page("pages/pipeline.py")  # the Overview is the default page at /
    return at.run()


def _ok(at: AppTest) -> None:
    assert not at.exception, at.exception[0].value if at.exception else ""


def _texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def _approve_button(at: AppTest):
    return next(b for b in at.sidebar.button if b.key == "model_approve")


@pytest.mark.parametrize("name", ["bert-base-uncased", "some-org/huge-model-70b", "core", "tests/browser"])
def test_a_link_naming_a_hub_id_loads_nothing_until_the_visitor_confirms(loads, name):
    at = _link(name)
    _ok(at)
    assert name not in loads, "nothing outside the allow-list loads from a link"
    assert set(loads) <= {DEFAULT_CHECKPOINT}
    assert any("only when you confirm it in the sidebar" in i for i in _texts(at.info))
    assert any("Not loaded yet" in m for m in _texts(at.sidebar.markdown))
    assert _approve_button(at).label == "Load it"  # offline: no size to show
    assert any("Runs: final shape" in s for s in _texts(at.success)), "the page runs on the bundled model meanwhile"
    _approve_button(at).click().run()
    _ok(at)
    assert loads[-1] == name, "the visitor's click loads it"
    failed = [e for e in _texts(at.error) if "Cannot load this checkpoint" in e and "hub is unreachable" in e]
    assert failed and not any("folder" in e for e in failed), "a server without model roots offers no folders"


def test_the_download_size_is_shown_before_downloading(loads, monkeypatch):
    import ui.common

    monkeypatch.setattr(
        ui.common, "hub_size", lambda name: HubSize(name, 440_473_133, 109_482_240, "model.safetensors")
    )
    at = _link("bert-base-uncased")
    _ok(at)
    assert _approve_button(at).label == "Download and load (440.5 MB)"
    assert any("440.5 MB download, 109,482,240 parameters" in c for c in _texts(at.sidebar.caption))
    assert "bert-base-uncased" not in loads


def test_an_allow_listed_folder_loads_straight_from_a_link(loads, model_root, monkeypatch):
    monkeypatch.setenv("SHAPE_EXPLORER_ALLOW", "tiny-local")
    at = _link("tiny-local")
    _ok(at)
    assert loads[-1] == "tiny-local"
    assert not any("confirm" in i for i in _texts(at.info))
    assert any("Runs: final shape `(1, 128)`" in s for s in _texts(at.success)), "hidden 128: the tiny model ran"


def test_a_folder_under_the_root_waits_for_the_visitor(loads, model_root):
    at = _link("tiny-local")
    _ok(at)
    assert "tiny-local" not in loads
    _approve_button(at).click().run()
    _ok(at)
    assert loads[-1] == "tiny-local"
    assert any("Runs: final shape `(1, 128)`" in s for s in _texts(at.success))


def _typed(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/pipeline.py").run()
    pick_checkpoint(at, OTHER)
    return at.text_input(key="model_custom").set_value(name).run()


def test_sidebar_refusals_cannot_map_the_server(loads, tmp_path):
    """The issue: /root/.ssh answered "not a model folder" and a missing path something else."""
    (tmp_path / "config.json").write_text("{}")
    answers = {}
    for name in ("/root/.ssh", "/definitely/missing", str(tmp_path), "../../etc", "~/.ssh"):
        at = _typed(name)
        _ok(at)
        errors = _texts(at.sidebar.error)
        assert len(errors) == 1, errors
        answers[name] = errors[0].replace(text(repr(name)), "NAME")  # the message, shown as escaped text
        assert any("not available on this server" in w for w in _texts(at.warning))
    assert len(set(answers.values())) == 1, answers
    assert set(loads) <= {DEFAULT_CHECKPOINT}
