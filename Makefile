# Two commands for a fresh machine: `make demo` and `make test`. Both build .venv once;
# the stamp is keyed on pyproject.toml and the extras, so a second call installs nothing.
VENV   := .venv
PY     := $(VENV)/bin/python
EXTRAS ?= dev
comma  := ,
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)-$(subst $(comma),-,$(EXTRAS))
DEMO   := data/raw/demo
# JupyterLab refuses to start as root unless told to; it is told so only when the user is root
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
# What the git filter strips besides outputs and execution counts: the kernel's language details
# JupyterLab writes on every save (the notebooks keep language_info.name and the kernelspec)
NB_EXTRA_KEYS := $(addprefix metadata.language_info.,codemirror_mode file_extension mimetype nbconvert_exporter pygments_lexer version)

.PHONY: install demo test lab bench clean-demo

install: $(STAMP)

# uv installs the dependencies, several times faster than pip (README.md, "Two commands"); each
# phase says what it does. --compile-bytecode: pip compiles at install too, and where
# PYTHONDONTWRITEBYTECODE is set, nothing would ever be compiled (every kernel start 10 s slower).
$(STAMP): pyproject.toml
	@echo "[1/4] Python environment: $(VENV)"
	@test -x $(PY) || python3 -m venv $(VENV)
	@echo "[2/4] the installer, uv (from PyPI)"
	@$(PY) -m pip install --quiet --disable-pip-version-check 'uv>=0.5'
	@echo "[3/4] cxlab and its dependencies (.[$(EXTRAS)], about 145 packages), then compiled"
	$(VENV)/bin/uv pip install --python $(PY) --compile-bytecode -e '.[$(EXTRAS)]'
	@echo "[4/4] the notebooks' Jupyter kernel (python3) and git's notebook output filter (nbstripout)"
	@$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	@if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then echo "      (not a git checkout: no filter)"; \
	elif ! test -x $(VENV)/bin/nbstripout; then echo "      (no nbstripout in .[$(EXTRAS)]: no filter; it comes with the dev extra)"; \
	else \
	  git config filter.nbstripout.clean '$(PY) -m nbstripout --keep-id' && \
	  git config filter.nbstripout.smudge cat && \
	  git config filter.nbstripout.required true && \
	  git config filter.nbstripout.extrakeys '$(NB_EXTRA_KEYS)' && \
	  git config diff.ipynb.textconv '$(PY) -m nbstripout --keep-id -t'; \
	fi
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo "Installed into $(VENV)."

$(DEMO)/study.yaml: | $(STAMP)
	$(VENV)/bin/cxlab synth --demo --out $(DEMO)

demo: $(STAMP) $(DEMO)/study.yaml
	$(VENV)/bin/cxlab run demo

test: $(STAMP)
	$(PY) -m pytest -q

# The README's pictures (docs/screenshots/, README "What you get"): the one browser test that runs
# the demo study in a temporary home and photographs its pages in headless Chromium (a few minutes)
.PHONY: screenshots
screenshots: $(STAMP)
	CXLAB_README_SCREENSHOTS=1 $(PY) -m pytest -q \
	  "tests/test_browser.py::test_every_page_of_the_demo_run_opens_offline_and_four_are_photographed_for_the_readme"

# JupyterLab on notebooks/ with the venv's python3 kernel; stage notebooks are saved without outputs
# (cxlab.lab), so Run All and a save leave git status clean
lab: $(STAMP)
	JUPYTER_PREFER_ENV_PATH=1 $(VENV)/bin/jupyter lab --notebook-dir=notebooks \
	  --ContentsManager.pre_save_hook=cxlab.lab.save_stage_notebook_clean $(LAB_ROOT)

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean-demo:
	rm -rf $(DEMO) data/processed/demo
