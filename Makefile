# make test  - create (or reuse) .venv, install, lint and run the test suite (CPU, a few minutes)
# make demo  - the main job: a whole MOOD-NAS sweep on the bundled digits data, on CPU
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo lint install clean

$(STAMP): requirements.txt requirements-dev.txt requirements-ray.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check .

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n 2 --dist loadfile

demo: $(STAMP)
	$(PY) multiobjective.py -o l2 -d 0.2 --max_searches 7 cifar --set digits --image_size 8 \
		--layers 3 --init_channels 4 --epochs 9 --begin 2 --batch_size 32 \
		--learning_rate 0.1 --learning_rate_min 0 --arch_learning_rate 0.05 --weight_decay 0 \
		--save demo --device cpu --threads 1

clean:
	rm -rf logs .pytest_cache .ruff_cache
