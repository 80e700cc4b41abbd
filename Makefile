# The two README commands. Each one sets up .venv/ from the lock file first.
.PHONY: setup demo test lint lock

setup:
	./scripts/setup

demo: setup
	.venv/bin/agentrun run examples/chain_of_agents.yaml --input document=@agentrun/data/demo/harbor_town.md

test: setup
	.venv/bin/python scripts/audit
	.venv/bin/python -m pytest -q

lint:
	.venv/bin/ruff check agentrun tests benchmarks
	.venv/bin/ruff format --check agentrun tests benchmarks
	.venv/bin/mypy

lock:
	./scripts/lock
