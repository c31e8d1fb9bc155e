# Two commands for a fresh machine: `make demo` and `make test`. Both build .venv once;
# the stamp is keyed on pyproject.toml, so a second call installs nothing.
VENV   := .venv
PY     := $(VENV)/bin/python
EXTRAS ?= dev
comma  := ,
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)-$(subst $(comma),-,$(EXTRAS))
DEMO   := data/raw/demo

.PHONY: install demo test lab bench clean-demo

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (cxlab)" >/dev/null
	@rm -f $(VENV)/.installed-*
	@touch $@

$(DEMO)/study.yaml: | $(STAMP)
	$(VENV)/bin/cxlab synth --demo --out $(DEMO)

demo: $(STAMP) $(DEMO)/study.yaml
	$(VENV)/bin/cxlab run demo

test: $(STAMP)
	$(PY) -m pytest -q

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean-demo:
	rm -rf $(DEMO) data/processed/demo
