"""report.html as a validation record, without training or a board: the date, tinyrnn's version, the git commit of
the code that exported the model (or "not a git checkout"), the toolchains; a model from a search names the search
and its board's core; the int8 TFLite memory cells say "not measured"; a MicroPython run names its implementation
and architecture."""

import json
import re
from types import SimpleNamespace

import pytest

from tinyrnn.host.check.harness import micropython_runtime
from tinyrnn.host.report.html import write_html
from tinyrnn.quantize.artifact import provenance

pytestmark = pytest.mark.fast


def _artifact(path, **metrics):
    path.mkdir()
    (path / "model.json").write_text(json.dumps({"dataset": "x", "cell": "gru", "units": 4, "layers": 1,
                                                 "task": "classification"}))
    (path / "metrics.json").write_text(json.dumps(metrics))
    return path


def _text(page):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_the_page_is_a_validation_record(tmp_path):
    made = provenance.code()
    art = _artifact(tmp_path / "m", kernel={"accuracy": 0.9, "flash_bytes": 9000, "ram_bytes": 80, "made_by": made,
                                            "weight_bytes": 500, "code_bytes": 8500, "flash_core": "cortex-m4"},
                    tflite_int8={"accuracy": 0.9, "runtime": "LiteRT 2.3.0 built-in kernels"}, float={"accuracy": 1.0})
    text = _text(write_html(art).read_text())
    assert "Validation record" in text
    assert f"tinyrnn {provenance.tinyrnn_version()}" in text and made["date"] in text
    assert re.search(r"code at git commit [0-9a-f]{40}", text)        # this test runs from a checkout
    for tool in ("arm-none-eabi-gcc", "QEMU (Arm)", "TensorFlow", "LiteRT"):
        assert f"{tool} (here, now)" in text
    # the float and int8 TFLite columns of the memory rows: said, not empty
    row = re.search(r"kernel\+model flash bytes \(cortex-m4\) (\S+ \S+) (\S+ \S+) ([\d,]+)", text)
    assert row and row.groups() == ("not measured", "not measured", "9,000"), row
    assert "kernel+model flash, cortex-m4" in text


def test_outside_a_git_checkout_the_record_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "SOURCE_ROOT", tmp_path)
    assert provenance.git_commit() == provenance.NOT_A_CHECKOUT


def test_a_model_from_a_search_shows_its_budget_core_and_the_search(tmp_path):
    search = {"trial": "003-gru8x1", "search_dir": "/s/search-x-qemu-microbit", "board": "qemu-microbit",
              "core": "cortex-m0", "clock_hz": 16_000_000, "max_latency_us": 400.0, "max_flash": 262144,
              "max_ram": 14336, "instructions_per_step": 5060, "latency_us": 316.2, "feasible": True,
              "infeasible_because": ""}
    art = _artifact(tmp_path / "best", search=search,
                    kernel={"flash_bytes": 9709, "weight_bytes": 700, "code_bytes": 9009, "ram_bytes": 152,
                            "flash_core": "cortex-m0"})
    text = _text(write_html(art).read_text())
    assert "From a search" in text and "003-gru8x1" in text and "/s/search-x-qemu-microbit" in text
    assert "kernel code + activation tables (flash, cortex-m0)" in text and "cortex-m4" not in text


def test_a_micropython_run_names_its_implementation_and_architecture():
    cmodule = micropython_runtime(SimpleNamespace(board_name="mpy-qemu-mps2-an386-cmodule", kernel_path="dsp"))
    assert cmodule["implementation"].startswith("user C module") and cmodule["architecture"] == "armv7emsp"
    natmod = micropython_runtime(SimpleNamespace(board_name="mpy-qemu-mps2-an385", kernel_path="c"))
    assert natmod["implementation"].startswith("natmod")
    python = micropython_runtime(SimpleNamespace(board_name="micropython-linux", kernel_path="mpy"))
    assert python["implementation"].startswith("pure Python")
    assert micropython_runtime(SimpleNamespace(board_name="qemu-mps2-an386", kernel_path="dsp")) is None
