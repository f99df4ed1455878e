# mulewatch developer commands. The README names two of them: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export KAFKA_PORT ?= 9092

.PHONY: setup test run bench broker-start broker-stop schemas clean

setup: $(STAMP)

# Reinstall when the pins or the project metadata change.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

# Starts the real broker, runs every test against it, and stops the broker whatever the outcome.
test: setup
	deploy/prometheus/ensure-prometheus.sh
	deploy/kafka/broker.sh start
	status=0; MULEWATCH_BROKER=kafka://127.0.0.1:$(KAFKA_PORT) $(BIN)/pytest $(PYTEST_ARGS) || status=$$?; \
	deploy/kafka/broker.sh stop; exit $$status

# Broker, worker, simulated feed and alerts on the terminal, until Ctrl-C.
run: setup
	$(BIN)/python -m stream.run_local

bench: setup
	deploy/kafka/broker.sh start
	status=0; for script in tests/benchmarks/bench_*.py; do $(BIN)/python $$script || status=$$?; done; \
	deploy/kafka/broker.sh stop; exit $$status

broker-start:
	deploy/kafka/broker.sh start

broker-stop:
	deploy/kafka/broker.sh stop

schemas: setup
	$(BIN)/mulewatch schemas --write

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
