"""Start the app the way ``make run`` does: ``python -m ui.server [streamlit options]``.

Streamlit imports the app only when the first visitor arrives, so that visitor would wait for torch,
transformers and the model to load (seconds). This launcher first imports the pages' modules, loads the
bundled default model into the same process-wide cache the pages use (``ui.common.get_checkpoint``) and
runs the Explorer's default pipeline once (which also fills the encoder-output memo), then starts
``streamlit run app.py`` in the same process: when the server answers, the first visitor gets a warm page.

Streamlit's static assets (JS chunks, CSS, fonts: content-hashed, immutable) are answered from memory after
their first request (``ui/static_cache.py``): ~3x less server CPU per file, for every visitor.

Options are passed to ``streamlit run`` unchanged (``--server.port 8501``, ``--server.address 0.0.0.0``).
``SHAPE_EXPLORER_PRELOAD=0`` skips the preload; ``=background`` serves at once and loads meanwhile (a visitor
who arrives before it is done waits for the same load: the cache computes a value once).

After the preload, everything alive (torch, transformers, the model: ~500k objects) is moved out of the cyclic
garbage collector's reach with ``gc.freeze()``. Streamlit runs ``gc.collect(2)`` after every script run
(``runner.postScriptGC``); over that heap one collection took ~240 ms on an idle 2-core machine and ~270-400 ms
during a page load, holding the GIL, so the server answered nothing else meanwhile (every visitor's page and
static files waited). Frozen objects are still freed by reference counting; only cycles among them would wait.
Measured after the freeze: the same collection takes under 1 ms; ``tests/app/test_server.py`` checks that
the collector is left with a small fraction of the heap.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"


def freeze_heap() -> None:
    """Collect garbage once, then exempt every object alive now from later cyclic collections (``gc.freeze``).

    Called after the preload: Streamlit's collection after each script run then walks only what was made
    since, not the ~500k long-lived objects of torch, transformers and the model.
    """
    import gc

    gc.collect()
    gc.freeze()


def preload() -> None:
    """Import what the pages import, load the default model into the pages' cache, run the default pipeline."""
    start = time.perf_counter()
    try:
        import logging

        # calls outside a script run make Streamlit log "missing ScriptRunContext"; harmless here
        logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
        logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)
        import importlib

        for module in ("ui.pipeline", "ui.pooling", "ui.lab", "ui.lessons"):  # the pages' widget code and libraries
            importlib.import_module(module)
        from core.spec import DEFAULT_CHECKPOINT, Spec
        from core.trace import run_spec
        from ui.common import get_checkpoint
        from ui.pipeline.state import DEFAULT_SPEC

        ckpt = get_checkpoint(DEFAULT_CHECKPOINT, "auto", False)  # the sidebar's defaults: same cache entry
        run_spec(Spec.from_dict(DEFAULT_SPEC), checkpoint=ckpt)  # warms the kernels and the encoder memo
    except Exception as e:  # the app still works: the first visitor loads the model instead
        print(f"shape-explorer: preload skipped ({type(e).__name__}: {e})", file=sys.stderr, flush=True)
        return
    finally:
        freeze_heap()  # also after a failed preload: the imports alone are ~300k objects
    print(f"shape-explorer: default model ready ({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    mode = os.environ.get("SHAPE_EXPLORER_PRELOAD", "1")
    if mode == "background":
        threading.Thread(target=preload, name="preload-default-model", daemon=True).start()
    elif mode != "0":
        print("shape-explorer: loading the default model before serving…", file=sys.stderr, flush=True)
        preload()
    from streamlit.web import cli

    from ui import static_cache

    static_cache.install()  # Streamlit's hashed JS/CSS answered from memory (ui/static_cache.py)

    return cli.main(["run", str(APP), *args], prog_name="streamlit", standalone_mode=False) or 0


if __name__ == "__main__":
    sys.exit(main())
