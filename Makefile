# Two commands on a fresh machine: `make demo` builds .venv and runs the main job; `make test` runs the tests.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench bench-deps bench-upscale bench-restore

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

bench-deps: $(STAMP)
	$(PY) -m pip install -q -r benchmarks/requirements.txt

# Each writes benchmarks/results/<name>.md and .json, headed by its command (see benchmarks/README.md).
bench: bench-deps
	$(PY) -m benchmarks.interpolate --frames all

bench-upscale: bench-deps
	$(PY) -m benchmarks.upscale --frames 10 --images 10
	$(PY) -m benchmarks.upscale_memory --tiles auto 1

bench-restore: bench-deps
	$(PY) -m benchmarks.restore
	$(PY) -m benchmarks.deblur_photos
	$(PY) -m benchmarks.deblur_defocus
