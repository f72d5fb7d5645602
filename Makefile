# Everything a newcomer needs: `make demo`, `make test`. Each target sets up what it needs itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins its own versions of common packages: it gets a venv of its own.
CHECKOV_VENV := .tools/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: install demo test check lint validate build package-check ci bench bench-smoke clean e2e-aws

$(STAMP): requirements-dev.txt pyproject.toml emulator/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet -e . -e emulator  # the bbq command and its library; the Bedrock emulator
	touch $(STAMP)

install: $(STAMP)

$(CHECKOV_STAMP):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==3.3.30
	touch $(CHECKOV_STAMP)

demo: $(STAMP)  ## the whole pipeline locally, on the emulator
	$(BIN)/bbq local demo

test: $(STAMP)  ## every test
	$(BIN)/python -m pytest -n auto

check: $(STAMP)  ## the fast loop (about 20 s): ruff, the core's import contract and the core's tests
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q tests/core

lint: $(STAMP)  ## ruff, the core's import contract (pyproject.toml), and mypy (each handler on its own: all are app.py)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy layers/bbq/bbq local/bbq_local local/bbq_sdk emulator/bedrock_emulator tests bench
	$(BIN)/mypy functions/ingest/app.py
	$(BIN)/mypy functions/scheduler/app.py
	$(BIN)/mypy functions/sweeper/app.py
	$(BIN)/mypy functions/results/app.py

validate: $(STAMP) $(CHECKOV_STAMP)  ## the template's static checks: no error, warning or failed check
	$(BIN)/sam validate --lint --region us-east-1
	$(BIN)/cfn-lint template.yaml
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --compact --skip-download
	$(BIN)/python -m bbq_local.translated > .tools/translated.json  # and as SAM deploys it (generated roles)
	$(CHECKOV_VENV)/bin/checkov --file .tools/translated.json --framework cloudformation --compact --skip-download
	$(BIN)/python -m tests.pipeline.iam_lint  # parliament over every policy, for several deployments

# What a plain machine has: the system's own folders and our venv's sam, no pyenv and no python3.13.
PLAIN_PATH := $(CURDIR)/$(BIN):/usr/local/bin:/usr/bin:/bin

build: $(STAMP)  ## sam build as on a plain machine (Python 3.11+, no python3.13, no Docker), then checks what it built
	env -u PYENV_VERSION PATH="$(PLAIN_PATH)" sh -c '! command -v python3.13 && SAM_CLI_TELEMETRY=0 sam build'
	$(BIN)/python -m bbq_local.build_check .aws-sam/build

# What a user gets from `pip install <repo>` in an empty virtual environment: a bbq that answers, quickly.
PACKAGE_VENV := .tools/package-check
EMULATOR_VENV := .tools/emulator-check
package-check:  ## pip install . into a new venv (bbq --version, --help timed, status --help, the SDK against bbq local up); the emulator alone, on botocore
	rm -rf $(PACKAGE_VENV) && $(PYTHON) -m venv $(PACKAGE_VENV)
	$(PACKAGE_VENV)/bin/pip install --quiet --disable-pip-version-check .
	cd /tmp && $(CURDIR)/$(PACKAGE_VENV)/bin/bbq --version
	cd /tmp && $(CURDIR)/$(PACKAGE_VENV)/bin/bbq status --help > /dev/null
	cd /tmp && $(CURDIR)/$(PACKAGE_VENV)/bin/python -c "import sys; from bbq_local import cli; cli.build_parser(); \
	  heavy = {'boto3', 'botocore', 'rich'} & set(sys.modules); sys.exit(f'--help loads {heavy}' if heavy else 0)"
	cd /tmp && $(CURDIR)/$(PACKAGE_VENV)/bin/python -c "import subprocess, sys, time; \
	  t = time.perf_counter(); subprocess.run([sys.prefix + '/bin/bbq', '--help'], check=True, capture_output=True); \
	  print(f'bbq --help: {time.perf_counter() - t:.3f} s (a figure, not a gate)')"
	# The SDK from that clean venv against `bbq local up` (the dev venv runs the stack): a DataFrame round trip.
	BBQ_LOCAL_STATE=$(CURDIR)/.tools/sdk-check/local.json $(BIN)/bbq local up --time-scale 300 > /dev/null
	cd /tmp && BBQ_LOCAL_STATE=$(CURDIR)/.tools/sdk-check/local.json $(CURDIR)/$(PACKAGE_VENV)/bin/python \
	  $(CURDIR)/tests/sdk_scripts/dataframe_round_trip.py 2>/dev/null; status=$$?; \
	  BBQ_LOCAL_STATE=$(CURDIR)/.tools/sdk-check/local.json $(CURDIR)/$(BIN)/bbq local down > /dev/null; exit $$status
	rm -rf $(EMULATOR_VENV) && $(PYTHON) -m venv $(EMULATOR_VENV)
	$(EMULATOR_VENV)/bin/pip install --quiet --disable-pip-version-check ./emulator
	cd /tmp && $(CURDIR)/$(EMULATOR_VENV)/bin/python $(CURDIR)/emulator/alone_check.py

e2e-aws: $(STAMP)  ## smoke test on a real account (a throwaway stack, deleted after); ARGS="--wait" or "--local"
	$(BIN)/python -m bbq_local.e2e_aws $(ARGS)

ci: test lint validate build package-check

bench: $(STAMP)  ## benchmarks that print figures
	$(BIN)/python bench/emulator_bench.py
	$(BIN)/python bench/pipeline_bench.py
	$(BIN)/python bench/ingest_bench.py
	$(BIN)/python bench/scheduler_reads_bench.py
	$(BIN)/python bench/scheduler_reads_bench.py --waiting 10000 --finished 10000 --file-records 10
	$(BIN)/python bench/planning_sim.py
	$(BIN)/python bench/teams_sim.py
	$(BIN)/python bench/settle_bench.py
	$(BIN)/python bench/join_bench.py
	$(BIN)/python bench/join_bench.py --records 500000 --budget 5 --real-writer
	$(BIN)/python bench/render_bench.py --rows 1000000
	$(BIN)/python bench/cold_start_bench.py

bench-smoke: $(STAMP)  ## every benchmark, small, in about a minute: CI runs them so they cannot rot
	$(BIN)/python bench/emulator_bench.py --seconds 1
	$(BIN)/python bench/pipeline_bench.py --files 4 --records 200
	$(BIN)/python bench/ingest_bench.py --sizes-mb 4
	$(BIN)/python bench/scheduler_reads_bench.py --waiting 200 --finished 200
	$(BIN)/python bench/scheduler_reads_bench.py --waiting 500 --finished 100 --file-records 10
	$(BIN)/python bench/planning_sim.py --files 40
	$(BIN)/python bench/teams_sim.py --fair-files 4 --budget-files 40 --deadline-files 4
	$(BIN)/python bench/settle_bench.py --records 2000
	$(BIN)/python bench/join_bench.py --records 20000 --part-records 1000 --budget 0.01
	$(BIN)/python bench/join_bench.py --records 20000 --part-records 1000 --budget 0.01 --real-writer
	$(BIN)/python bench/render_bench.py --rows 20000
	$(BIN)/python bench/cold_start_bench.py --runs 2

clean:
	rm -rf $(VENV) .tools .aws-sam .pytest_cache .ruff_cache demo-output
