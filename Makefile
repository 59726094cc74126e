# `make run` and `make test` each do the whole set-up from a fresh clone.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
# 0.0.0.0: the room's laptops can reach the server; ADDRESS=127.0.0.1 keeps it on this machine only.
ADDRESS ?= 0.0.0.0

.PHONY: run test lint format bench bench-room chromium clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.deps: requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .   # the `shape-explorer` console script (= python -m core)
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.deps
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# Prints the room link for students, the teacher key and where answers are saved, once the server answers
# (core/room/serve.py starts ui/server.py, which loads the default model first: the first visitor gets a warm page).
# Optional: ROOM_URL=http://… (the address students use, when it is not this machine's LAN address), TEACHER_KEY=….
run: $(VENV)/.deps
	$(if $(TEACHER_KEY),SHAPE_EXPLORER_TEACHER_KEY='$(TEACHER_KEY)') $(PY) -m core.room.serve \
	  --port $(PORT) --address $(ADDRESS) $(if $(ROOM_URL),--room-url '$(ROOM_URL)')

# Debian's Chromium for the browser tests (installed when missing and running as root).
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found and not root: browser tests will be skipped"; fi; \
	fi

lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# Every core (at most 4 workers): the browser tests share one server on one worker (xdist_group "browser"),
# the unit and page tests run beside them. `$(PY) -m pytest -m "not slow"` is the quick loop.
test: $(VENV)/.dev chromium lint
	HF_HUB_OFFLINE=1 $(PY) -m pytest -n auto --maxprocesses 4 --dist loadgroup

# both benchmarks: embedding (ours vs sentence-transformers) and the app in Chromium (needs the dev tools)
bench: $(VENV)/.dev chromium
	@status=0; \
	HF_HUB_OFFLINE=1 $(PY) benchmarks/bench_embed.py || status=1; \
	HF_HUB_OFFLINE=1 $(PY) benchmarks/bench_app.py || status=1; \
	exit $$status

# a workshop room: STUDENTS (default 20) open a lesson through the room link and answer at once; the teacher's
# page must count them all (benchmarks/bench_room.py; one headless Chromium holds every student's page)
STUDENTS ?= 20
bench-room: $(VENV)/.dev chromium
	HF_HUB_OFFLINE=1 $(PY) benchmarks/bench_room.py --students $(STUDENTS)

clean:
	rm -rf $(VENV) tests/artifacts .pytest_cache .ruff_cache .hypothesis
