# Every target builds .venv from pyproject.toml first when it is missing or older than
# pyproject.toml, so `make compile STAGE=dev` and `make test` work straight from a clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STAGE  ?= dev

.PHONY: venv-locked lock compile lint security check test typecheck diff package bootstrap deploy drift up down adopt-demo bench clean venv help

help:
	@echo "make compile STAGE=dev|staging|prod|all  write generated/<stage>/ from spec/"
	@echo "make check                                fail if generated/ is stale (all stages)"
	@echo "make lint                                 cfn-lint every generated template"
	@echo "make security                             checkov over every stage (pinned; its own venv in .cache)"
	@echo "make typecheck                            mypy --strict over compiler/ and handlers/"
	@echo "make test                                 pytest, typecheck, lint, security and check"
	@echo "make diff STAGE=dev AGAINST=HEAD          what deploying the spec would change, with risks"
	@echo "make package                              reproducible handler zips in .build/artifacts"
	@echo "make venv-locked                          .venv from hash-locked wheels only (the deploy and drift jobs)"
	@echo "make lock                                 rewrite .github/deploy-requirements.txt after a pin moves"
	@echo "make bootstrap STAGE=dev                  the stage's deploy roles and bucket (an administrator, once)"
	@echo "make deploy STAGE=dev                     package, then change sets level by level (boto3)"
	@echo "make drift STAGE=dev                      does the deployed stage match generated/? (exit 5 if not)"
	@echo "make up / make down                       the stage on a local moto server (127.0.0.1)"
	@echo "make adopt-demo                           take over a Serverless-shaped stage on a local moto server"
	@echo "make bench                                speed as ratios against references run alongside"
	@echo "make clean                                remove .venv and caches"

venv: $(STAMP)

# uv (the dev extra's own pin, put in first by pip) resolves and installs the dev extra: the
# same versions as pip, in ~15 s instead of ~40 s. Byte-compiled as pip does, since this
# machine's PYTHONDONTWRITEBYTECODE would otherwise recompile every import on every run;
# for the same reason the start-up code cache (dataclass methods, annotations, regular
# expressions: compiler/codecache.py) is filled here.
UV_PIN := $(shell sed -n 's/^ *"\(uv==[^"]*\)".*/\1/p' pyproject.toml)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check '$(UV_PIN)'
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -e '.[dev]'
	$(BIN)/python -c 'from compiler import codecache; codecache.fill("spec")'
	@touch $(STAMP)

# The deploy and drift jobs hold AWS credentials: their .venv comes only from hash-locked
# wheels (.github/deploy-requirements.txt: the compiler, its deploy extra and the build
# backend), never from a fresh resolution. `make lock` rewrites the file after a pin moves.
LOCK := .github/deploy-requirements.txt

venv-locked:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --no-index -e .

lock: $(STAMP)
	@mkdir -p .build
	printf 'setuptools==80.9.0\n' > .build/build-backend.in
	$(BIN)/uv pip compile pyproject.toml --extra deploy .build/build-backend.in --generate-hashes --universal \
	  --python-version 3.11 --no-header --custom-compile-command 'make lock' -o $(LOCK)

compile: $(STAMP)
	$(BIN)/platformc compile --stage $(STAGE)

check: $(STAMP)
	$(BIN)/platformc check

lint: $(STAMP)
	$(BIN)/platformc lint

security: $(STAMP)
	$(BIN)/platformc security

typecheck: $(STAMP)
	$(BIN)/mypy compiler
	MYPYPATH=handlers $(BIN)/mypy handlers/*.py

# After the tests, the three gates run side by side (mypy and checkov take one core each,
# lint two workers): 38 s instead of 49 s cold on 2 cores; each keeps its output together.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto
	$(MAKE) --no-print-directory -j3 --output-sync=target typecheck lint security
	$(BIN)/platformc check

AGAINST ?= HEAD
FORMAT  ?= text

diff: $(STAMP)
	$(BIN)/platformc diff --stage $(STAGE) --against $(AGAINST) --format $(FORMAT)

package: $(STAMP)
	$(BIN)/platformc package

bootstrap: $(STAMP)
	$(BIN)/platformc bootstrap --stage $(STAGE)

deploy: $(STAMP) package
	$(BIN)/platformc deploy --stage $(STAGE)

drift: $(STAMP)
	$(BIN)/platformc drift --stage $(STAGE)

up: $(STAMP)
	$(BIN)/platformc compile --stage $(STAGE)
	$(BIN)/platformc up --stage $(STAGE)

down: $(STAMP)
	$(BIN)/platformc down

adopt-demo: $(STAMP)
	$(BIN)/python -m tests.delivery.adopt_demo

bench: $(STAMP)
	$(BIN)/python -m tests.bench.run

clean:
	rm -rf $(VENV) .cache .build .pytest_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
