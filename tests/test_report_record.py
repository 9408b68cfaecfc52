"""report.html as a validation record, without training or a board: the date, tinyrnn's version, the git commit of
the code that exported the model (or "not a git checkout"), the toolchains; a model from a search names the search
and its board's core; the float model's memory cells say "not measured", the int8 TFLite ones too when there is no
model file, and why when it does not load; a MicroPython run names its implementation, architecture and heap."""

import json
import re
from types import SimpleNamespace

import pytest

from tinyrnn.host.check.harness import NOT_REPORTED, micropython_runtime
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
    # the float and int8 TFLite columns of the memory rows: said, not empty (no model_int8.tflite here)
    row = re.search(r"interpreter code not included\) (\S+ \S+) (\S+ \S+) ([\d,]+)", text)
    assert row and row.groups() == ("not measured", "not measured", "9,000"), row
    assert "kernel: kernel+model, cortex-m4" in text and "kernel+model flash, cortex-m4" in text


def test_a_damaged_int8_model_file_is_named_in_its_memory_cells(tmp_path):
    art = _artifact(tmp_path / "m", kernel={"flash_bytes": 9000, "ram_bytes": 80}, tflite_int8={"accuracy": 0.9},
                    float={"accuracy": 1.0})
    (art / "model_int8.tflite").write_bytes(b"not a flatbuffer" * 8)
    text = _text(write_html(art).read_text())
    assert text.count("not measured (model_int8.tflite does not load:") == 2


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
    assert natmod["heap"] == NOT_REPORTED and natmod["heap_model_bytes"] is None       # no STATS: not reported


def test_a_micropython_run_shows_its_heap_from_the_boards_stats(tmp_path):
    counts = {"stack_used": 0, "stack_size": 0, "heap_model": 9264, "heap_free": 108080, "heap_size": 140032}
    runtime = micropython_runtime(SimpleNamespace(board_name="mpy-qemu-mps2-an386", kernel_path="dsp"), counts)
    assert (runtime["heap_model_bytes"], runtime["heap_free_bytes"], runtime["heap_size_bytes"]) == \
        (9264, 108080, 140032)
    # the C firmware's zeros are no heap figures
    c_counts = {**counts, "heap_model": 0, "heap_free": 0, "heap_size": 0}
    assert micropython_runtime(SimpleNamespace(board_name="micropython-linux", kernel_path="mpy"),
                               c_counts)["heap"] == NOT_REPORTED
    art = _artifact(tmp_path / "m", kernel={"flash_bytes": 9000, "ram_bytes": 80})
    run = art / "hw" / "mpy-qemu-mps2-an386"
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps({
        "board": "mpy-qemu-mps2-an386", "kernel_path": "dsp", "cpu_clock_hz": 25e6, "sequences": 1, "steps": 2,
        "bit_exact": {"mismatched_values": 0, "total_values": 4}, "fidelity": {}, "thresholds": {},
        "latency": {"unit": "instructions", "note": "", "per_step": {"p50": 1, "p99": 1, "max": 1},
                    "per_step_us": {"p50": 1, "p99": 1, "max": 1}},
        "runtime": runtime, "link": {"board": counts}, "passed": True}))
    text = _text(write_html(art).read_text())
    assert "heap model 9,264 B (kernel module, loader, weights, buffers); 108,080 B free of 140,032 B" in text
