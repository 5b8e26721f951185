# Two commands on a fresh machine with Python 3.11+:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install lint clean figures

demo: $(VENV)/.installed  ## install, then run the whole product on this machine
	$(BIN)/pursuit demo $(ARGS)

test: $(VENV)/.installed  ## install, then run the test suite (a private redis-server; Chromium for browser tests)
	$(BIN)/python -m pytest $(ARGS)

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,embedded-redis]'
	touch $@

lint: $(VENV)/.installed  ## ruff (lint + format) and mypy --strict over the packages (config in pyproject.toml)
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

# the README's forecast figures: Berlin 2017 scored by a model fitted on the seven other races, the
# calibration of all eight scored so (reliability), and the simulated J-1000; plotly draws each as HTML,
# headless Chromium photographs it (about 4 minutes)
RACES := berlin_marathon_2017 berlin_marathon_2014 chicago_marathon_2014 chicago_marathon_2016 chicago_marathon_2017 \
         london_marathon_2014 london_marathon_2015 london_marathon_2016
CHROMIUM ?= chromium
figures: $(VENV)/.installed  ## redraw docs/img/forecast-berlin.png, forecast-berlin-reliability.png and forecast-j1000.png
	mkdir -p .pursuit
	$(BIN)/pursuit evaluate $(foreach r,$(RACES),--results $(wildcard data/results/$(r)_*)) \
		--pursuer winner --delay 5880 --at 0.25 0.5 0.75 --leave-one-out --plot .pursuit/forecast-berlin.html
	$(BIN)/pursuit evaluate --simulated --plot .pursuit/forecast-j1000.html
	for f in forecast-berlin forecast-berlin-reliability forecast-j1000; do \
		$(CHROMIUM) --headless --no-sandbox --hide-scrollbars --window-size=900,450 \
			--screenshot=docs/img/$$f.png file://$(CURDIR)/.pursuit/$$f.html; done

clean:
	rm -rf $(VENV) .pursuit test-artifacts
