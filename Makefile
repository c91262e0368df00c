# cadastre: the two set-up commands are `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CADASTRE := $(BIN)/cadastre
SAMPLES := data/samples
BASELINES := .venv-baselines
PYTEST_ARGS ?=
# the suite in two processes, a test module's tests together (they share its registry fixtures); TEST_WORKERS=0 runs
# it in this process
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install system-deps test-deps demo serve test bench notebooks clean

help:
	@echo "make demo    set up .venv and the embedded database, load the sample county, serve the map on http://127.0.0.1:8000/"
	@echo "make serve   serve the current database (HOST=, PORT=)"
	@echo "make test    install test dependencies (PostgreSQL + PostGIS) and run the suite on SpatiaLite and PostGIS"
	@echo "make bench   run the benchmarks (QUICK=1: a hundredth of the data, about a minute); not part of make test"
	@echo "make notebooks  JupyterLab on the analysts' notebooks and the sample registry (var/sample-registry.sqlite)"

# Debian packages the library needs at run time: SpatiaLite for the embedded database, mdbtools for personal
# geodatabases (.mdb), a CJK font (WenQuanYi Micro Hei, TrueType outlines) embedded in the PDF documents, venv for .venv.
system-deps:
	@tools/ensure-debian-packages libsqlite3-mod-spatialite mdbtools fonts-wqy-microhei
	@$(PYTHON) -c "import venv, ensurepip" 2>/dev/null || tools/ensure-debian-packages python3-venv

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[api,test]'
	@touch $@

install: system-deps $(VENV)/.installed

# PostgreSQL + PostGIS for the PostGIS half of the suite; Debian's Chromium and a CJK font for the browser tests
# (Playwright drives /usr/bin/chromium; it never downloads a browser); Debian's GDAL (3.6, what desktop GIS here runs)
# as the OGC API's real client; poppler (pdftoppm) renders the PDF documents to pictures.
test-deps: install
	@tools/ensure-postgis
	@tools/ensure-debian-packages chromium fonts-wqy-microhei gdal-bin poppler-utils

demo: install
	$(CADASTRE) init --county 141031
	$(CADASTRE) samples write $(SAMPLES)
	$(CADASTRE) zones import $(SAMPLES)/141031-zoning.zip
	$(CADASTRE) check $(SAMPLES)/141031-cadastral.zip
	$(CADASTRE) ingest $(SAMPLES)/141031-cadastral.zip
	$(CADASTRE) check $(SAMPLES)/141031-presale.zip
	$(CADASTRE) ingest $(SAMPLES)/141031-presale.zip
	@# exit status 1 is expected here: building 0002 was built 4.2 % larger than its permit allows (PLN-009)
	$(CADASTRE) check $(SAMPLES)/141031-asbuilt.zip || test $$? -eq 1
	$(CADASTRE) ingest $(SAMPLES)/141031-asbuilt.zip
	$(CADASTRE) table 141031001002GB00001F0001
	@# 府前华庭 on parcel 4: 跃层 flats, ground-floor shops, a 架空层, a basement garage under both towers
	$(CADASTRE) ingest $(SAMPLES)/141031-towers-presale.zip
	$(CADASTRE) ingest $(SAMPLES)/141031-towers-asbuilt.zip
	$(CADASTRE) table 141031001002GB00004F0002
	$(CADASTRE) summary
	@# the demo administrator: a new random password on every run, printed here (sign in on the map page with it)
	@$(CADASTRE) user add demo --role admin --generate-password 2>/dev/null || \
	  $(CADASTRE) user set demo --role admin --enable --generate-password
	$(CADASTRE) serve --host 127.0.0.1 --port 8000

# the HTTP service on the current database (HOST/PORT to change where it listens)
serve: install
	$(CADASTRE) serve --host $(or $(HOST),127.0.0.1) --port $(or $(PORT),8000)

test: test-deps
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

# the benchmarks start their own PostgreSQL like the tests do; wrk is the HTTP load generator
bench: install $(BASELINES)/.installed
	@tools/ensure-postgis
	@tools/ensure-debian-packages wrk
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

# tipg, the HTTP benchmark's outside baseline, in a venv of its own so that its pins never touch ours
$(BASELINES)/.installed:
	@test -x $(BASELINES)/bin/python || $(PYTHON) -m venv $(BASELINES)
	$(BASELINES)/bin/python -m pip install -q 'tipg>=1.6,<2' 'uvicorn>=0.30' || \
	  echo "tipg does not install here: the HTTP benchmark runs without that baseline"
	@touch $@

# JupyterLab for analysts: the notebooks in notebooks/, on the sample registry (built on first use; set
# CADASTRE_DB to explore another registry), with a CJK font for the plots
notebooks: install
	@tools/ensure-debian-packages fonts-wqy-microhei
	$(BIN)/python -m pip install -q -e '.[api,test,notebooks]'
	$(BIN)/python -c "from cadastre.samples import sample_registry; sample_registry('var/sample-registry.sqlite').close()"
	$(BIN)/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --port=$(or $(PORT),8888) --no-browser \
	  $(if $(filter 0,$(shell id -u)),--allow-root,)

clean:
	rm -rf var .pytest_cache .hypothesis
