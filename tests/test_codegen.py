"""C generation and export: deterministic readable output, checked identifiers, the weight layout,
the export CLI and its files."""
from __future__ import annotations

import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from quantize import codegen
from quantize.export import export
from quantize.kernel import KERNEL_BIN_MAGIC, quantize_artifact
from quantize.synthetic import make_artifact
from quantize.twin import TwinModel, pad4


def test_generation_is_deterministic(tmp_path):
    a = quantize_artifact(make_artifact(tmp_path / "a", cell="lstm", layers=2, seed=3))
    b = quantize_artifact(make_artifact(tmp_path / "b", cell="lstm", layers=2, seed=3))
    assert codegen.model_source(a, "x") == codegen.model_source(b, "x")
    assert codegen.model_header(a, "x") == codegen.model_header(b, "x")
    assert a.model_hash == b.model_hash
    c = quantize_artifact(make_artifact(tmp_path / "c", cell="lstm", layers=2, seed=4))
    assert c.model_hash != a.model_hash


def test_identifiers_are_checked():
    assert codegen.c_identifier("tinyrnn_l0_gates_weights") == "tinyrnn_l0_gates_weights"
    for bad in ("0abc", "a-b", "", "__x", "a b"):
        with pytest.raises(ValueError):
            codegen.c_identifier(bad)


def test_interleaved_layout_gives_the_same_dot_products():
    """Simulate the C reading order (blocks of 4 rows, groups of 4 columns, bytes c0 c2 c1 c3)."""
    rng = np.random.default_rng(0)
    rows, ca, cb = 11, 7, 5
    wa = rng.integers(-127, 128, (rows, ca)).astype(np.int8)
    wb = rng.integers(-127, 128, (rows, cb)).astype(np.int8)
    a = np.zeros(pad4(ca), np.int64)
    b = np.zeros(pad4(cb), np.int64)
    a[:ca], b[:cb] = rng.integers(-32768, 32768, ca), rng.integers(-32768, 32768, cb)
    flat = codegen.interleave_weights(wa, wb).astype(np.int64)
    assert flat.size == rows * (pad4(ca) + pad4(cb))
    pos, got_a, got_b = 0, np.zeros(rows, np.int64), np.zeros(rows, np.int64)
    for start in range(0, rows, 4):
        n = min(4, rows - start)
        for vec, got in ((a, got_a), (b, got_b)):
            for g in range(0, len(vec), 4):
                for r in range(n):
                    w = flat[pos:pos + 4]
                    got[start + r] += w[0] * vec[g] + w[1] * vec[g + 2] + w[2] * vec[g + 1] + w[3] * vec[g + 3]
                    pos += 4
    assert (got_a == wa.astype(np.int64) @ a[:ca]).all() and (got_b == wb.astype(np.int64) @ b[:cb]).all()


def test_export_writes_the_contract_files(tmp_path):
    art = make_artifact(tmp_path / "m", cell="gru", reset_after=False, d=5, units=12, k=3, n=8, steps=20)
    result = export(art, progress=False)
    metrics = result["metrics"]
    for key in ("accuracy", "argmax_agreement", "final_max_abs", "final_mean_abs", "step_max_abs",
                "step_mean_abs", "flash_bytes", "ram_bytes"):
        assert key in metrics
    assert result["step_outputs"].shape == np.load(art / "test_split.npz")["float_outputs"].shape
    manifest = json.loads((art / "model.json").read_text())
    kernel = json.loads((art / "kernel.json").read_text())
    header = (art / "c" / "model_data.h").read_text()
    assert manifest["model_hash"] == kernel["model_hash"] == TwinModel.from_artifact_dir(art).model_hash
    assert f'#define TINYRNN_MODEL_HASH "{manifest["model_hash"]}"' in header
    for macro in ("INPUT_DIM 5", "OUTPUT_DIM 3", "UNITS 12", "LAYERS 1", "CELL_ID 1", "HEAD_ID 0",
                  "STATE_WORDS", "SCRATCH_WORDS", "INPUT_FRAC_BITS"):
        assert f"#define TINYRNN_{macro}" in header
    assert "GENERATED" in header and "#include \"tinyrnn.h\"" in header
    blob = (art / "kernel.bin").read_bytes()
    assert blob[:4] == KERNEL_BIN_MAGIC and len(blob) % 4 == 0
    assert struct.unpack_from("<HHH", blob, 10) == (5, 12, 3)
    before = (art / "c" / "model_data.c").read_text()
    export(art, progress=False)                                       # idempotent
    assert (art / "c" / "model_data.c").read_text() == before


def test_export_cli_one_line_errors(tmp_path):
    run = [sys.executable, "-m", "quantize.export"]
    bad = subprocess.run(run + [str(tmp_path / "missing")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "error:" in bad.stderr
    (tmp_path / "empty").mkdir()
    bad = subprocess.run(run + [str(tmp_path / "empty")], capture_output=True, text=True)
    assert bad.returncode == 2 and "model.json" in bad.stderr
    art = make_artifact(tmp_path / "m", d=2, units=4, k=2, n=2, steps=4)
    ok = subprocess.run(run + ["--quiet", str(art)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["model_hash"] == json.loads((art / "model.json").read_text())["model_hash"]
