# make test  - create (or reuse) .venv, install, lint and run the test suite (CPU, a few minutes)
# make demo  - the main job: a whole MOOD-NAS sweep on the bundled digits data, on CPU
# make demo-seeds - 3 genotypes x 3 seeds on digits: mean +- std, best of n, ensembles (CPU, a few minutes)
# make demo-flops - the demo's searches swept with FLOPs as the objective instead of L2 (docs/objectives.md; CPU, a few minutes)
# make demo-params - the same with parameters as the objective
# make demo-latency - the same with CPU latency: times a lookup table on this CPU first (logs/demo-latency/, kept
#                     and reused by later runs), then sweeps it
# make test-oldest - lint and the suite on the oldest versions the requirements admit (uv's lowest-direct
#                    resolution, in .venv-oldest: torch 2.4's CUDA wheels, a few GB)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OLDEST ?= .venv-oldest
# the demo's searches: a tiny supernet on 8x8 digits, one CPU thread
DEMO_SEARCH := cifar --set digits --image_size 8 --layers 3 --init_channels 4 --epochs 9 \
	--begin 2 --batch_size 32 --learning_rate 0.1 --learning_rate_min 0 --arch_learning_rate 0.05 --weight_decay 0 \
	--device cpu --threads 1
# the demo's l2 sweep: at most 7 searches
DEMO_SWEEP := -d 0.2 --max_searches 7 $(DEMO_SEARCH)
# a cost sweep of the demo (docs/objectives.md): at most 10 searches, costed on NetworkCIFAR(4, 10, 8) at 8x8
DEMO_COST := -d 0.1 --max_searches 10 $(DEMO_SEARCH) --eval_channels 4 --eval_layers 8
# the latency table of that network at batch 1 on this CPU, one thread, checked against 68 whole networks
DEMO_TABLE := logs/demo-latency/cpu_table.json

.PHONY: test test-oldest demo demo-seeds demo-flops demo-params demo-latency lint install clean

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
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=10

test-oldest:
	test -x $(OLDEST)/bin/python || $(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet uv
	$(OLDEST)/bin/python -m uv pip compile --quiet --python $(OLDEST)/bin/python --resolution lowest-direct \
		requirements-dev.txt -o $(OLDEST)/oldest.txt
	$(OLDEST)/bin/python -m uv pip sync --quiet --python $(OLDEST)/bin/python $(OLDEST)/oldest.txt
	grep -iE '^(torch|torchvision|numpy|pandas|scikit-learn|matplotlib|ruff)==' $(OLDEST)/oldest.txt
	$(OLDEST)/bin/python -m ruff check .
	$(OLDEST)/bin/python -m pytest -q -n 2 --dist loadfile

demo: $(STAMP)
	$(PY) multiobjective.py -o l2 $(DEMO_SWEEP) --save demo

demo-flops: $(STAMP)
	$(PY) multiobjective.py -o flops $(DEMO_COST) --save demo-flops

demo-params: $(STAMP)
	$(PY) multiobjective.py -o params $(DEMO_COST) --save demo-params

demo-latency: $(STAMP)
	test -f $(DEMO_TABLE) || $(PY) tools/latency_table.py --device cpu --batch 1 --threads 1 --eval_channels 4 \
		--eval_layers 8 --image_size 8 --min_run_time 0.1 --validate -o $(DEMO_TABLE)
	$(PY) multiobjective.py -o latency $(DEMO_COST) --latency_table $(DEMO_TABLE) --save demo-latency

demo-seeds: $(STAMP)
	$(PY) batch_train.py --archs l2_loss_2e01 DARTS_V2 PC_DARTS_cifar --seeds 0 1 2 --set digits --image_size 8 \
		--layers 3 --init_channels 8 --epochs 20 --batch_size 64 --learning_rate 0.05 --train_portion 0.8 \
		--save seeds-demo --device cpu --threads 1
	B=$$(ls -d logs/batch-train-seeds-demo-* | tail -n 1) && \
		$(PY) ensemble.py --models_folder $$B --calculate --threads 1 && \
		$(PY) tools/analyse_train_logs.py -t $$B -e $$B/ensemble.json -o logs/seeds-demo/loss_table.csv --threads 1

clean:
	rm -rf logs .pytest_cache .ruff_cache
