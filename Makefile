# Two commands on a fresh machine: `make demo` builds .venv and runs the main job; `make test` runs the tests.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench

setup: $(STAMP)

$(STAMP): setup.py
	[ -x $(PY) ] || { python=$$(scripts/find-python) && $$python -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	# vspipe from the wheel needs a runtime configuration pointing at this environment.
	$(VENV)/bin/vapoursynth config
	touch $@

demo: $(STAMP)
	$(VENV)/bin/vsvideogen demo

test: $(STAMP)
	$(PY) -m pytest -q tests || { rc=$$?; [ $$rc -eq 5 ] && echo 'pytest: no tests collected'; [ $$rc -eq 5 ]; }

bench: $(STAMP)
	$(PY) -m pip install -q -r benchmarks/requirements.txt
	$(PY) -m benchmarks.interpolate --frames all
