"""C generation and export: deterministic readable output, checked identifiers, the weight layout,
the export CLI and its files."""
from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

from tinyrnn.quantize import targets
from tinyrnn.quantize.emit import c_code as codegen
from tinyrnn.quantize.emit.export import export
from tinyrnn.quantize.twin.params import KERNEL_BIN_MAGIC
from tinyrnn.quantize.twin.quantizer import quantize_artifact
from tinyrnn.quantize.reference.synthetic import make_artifact
from tinyrnn.quantize.twin.cells import TwinModel, pad4

pytestmark = pytest.mark.toolchain


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
    """Simulate both readers of the row-pair layout (blocks of 4 rows, pairs, groups of 4 columns, halfwords
    256 w_B + w_A): the plain-C byte decoding and the DSP route (SXTB16 gives w_A; SMLALD of the halfwords
    gives 256 acc_B + acc_A exactly, acc_B = (S >> 8) - (acc_A >> 8)), at the extreme values too."""
    rng = np.random.default_rng(0)
    for rows, ca, cb, extreme in ((11, 7, 5, False), (9, 13, 6, False), (5, 256, 256, True)):
        wa = rng.integers(-127, 128, (rows, ca)).astype(np.int8)
        wb = rng.integers(-127, 128, (rows, cb)).astype(np.int8)
        a = np.zeros(pad4(ca), np.int64)
        b = np.zeros(pad4(cb), np.int64)
        a[:ca], b[:cb] = rng.integers(-32768, 32768, ca), rng.integers(-32768, 32768, cb)
        if extreme:
            wa[:] = np.where(rng.integers(0, 2, wa.shape) > 0, 127, -127)
            wb[:] = -127
            a[:ca], b[:cb] = -32768, -32768
        halves = codegen.interleave_weights(wa, wb)
        assert halves.dtype == np.int16
        pairs = sum((min(4, rows - s) + 1) // 2 for s in range(0, rows, 4))
        assert halves.size == pairs * (pad4(ca) + pad4(cb))
        lo = halves.view(np.int8)[0::2].astype(np.int64)          # little-endian bytes: low byte = w_A
        hi = halves.view(np.int8)[1::2].astype(np.int64)
        halves = halves.astype(np.int64)
        pos, got_c, got_dsp = 0, {}, {}
        for start in range(0, rows, 4):
            n = min(4, rows - start)
            for name, vec in (("a", a), ("b", b)):
                acc_c = np.zeros(4, np.int64)
                acc_a = np.zeros(4, np.int64)
                s64 = np.zeros(4, np.int64)
                for g in range(0, len(vec), 4):
                    for p in range(0, n, 2):
                        k = slice(pos, pos + 4)
                        acc_c[p] += lo[k] @ vec[g:g + 4]                           # plain C: w_A = low byte
                        acc_c[p + 1] += (hi[k] + (lo[k] < 0)) @ vec[g:g + 4]      # w_B = high + borrow
                        acc_a[p] += lo[k] @ vec[g:g + 4]                           # SXTB16 + SMLAD
                        s64[p] += halves[k] @ vec[g:g + 4]                         # SMLALD
                        pos += 4
                for p in range(0, n, 2):
                    assert -2**31 <= acc_a[p] < 2**31
                    acc_b = ((s64[p] >> 8) - (acc_a[p] >> 8) + 2**31) % 2**32 - 2**31  # 32-bit result
                    got_dsp[(name, start + p)], got_dsp[(name, start + p + 1)] = acc_a[p], acc_b
                    got_c[(name, start + p)], got_c[(name, start + p + 1)] = acc_c[p], acc_c[p + 1]
        assert pos == halves.size
        for name, w, vec, cols in (("a", wa, a, ca), ("b", wb, b, cb)):
            want = w.astype(np.int64) @ vec[:cols]
            for r in range(rows):
                assert got_c[(name, r)] == want[r] and got_dsp[(name, r)] == want[r]


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
    run = [sys.executable, "-m", "tinyrnn.host.cli", "export"]
    bad = subprocess.run(run + [str(tmp_path / "missing")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "error:" in bad.stderr
    (tmp_path / "empty").mkdir()
    bad = subprocess.run(run + [str(tmp_path / "empty")], capture_output=True, text=True)
    assert bad.returncode == 2 and "model.json" in bad.stderr
    art = make_artifact(tmp_path / "m", d=2, units=4, k=2, n=2, steps=4)
    ok = subprocess.run(run + ["--quiet", str(art)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["model_hash"] == json.loads((art / "model.json").read_text())["model_hash"]


def test_c_layout_versions_match_and_mismatch_is_an_error(tmp_path):
    """model_data.h declares every layout its model_data.c carries (codegen.LAYOUTS); tinyrnn.h names the kernels'
    layout per path (3 on RV32IM, else 2: quantize/targets.py Core.weight_layout); model_data.c compiles the
    kernels' one, and stops the compiler with a message that says what to do when it lacks it (or is older)."""
    from tinyrnn.quantize.toolchain import build
    kernel_h = (build.KERNELS_DIR / "tinyrnn.h").read_text()
    assert [int(n) for n in re.findall(r"#define TINYRNN_KERNEL_C_LAYOUT (\d+)", kernel_h)] == [3, 2]
    assert {core.weight_layout for core in targets.CORES.values() if core.kernel_path == "rv32"} == {3}
    assert {core.weight_layout for core in targets.CORES.values() if core.kernel_path != "rv32"} == {2}
    art = make_artifact(tmp_path / "m", d=2, units=4, k=2, n=2, steps=4)
    export(art, progress=False)
    header = art / "c" / "model_data.h"
    assert codegen.header_layouts(header.read_text()) == set(codegen.LAYOUTS)
    compile_c = ["gcc", *build.STRICT_FLAGS, "-fsyntax-only", f"-I{build.KERNELS_DIR}", f"-I{art / 'c'}",
                 str(art / "c" / "model_data.c")]
    assert subprocess.run(compile_c, capture_output=True, text=True).returncode == 0
    current = header.read_text()
    header.write_text(current.replace("#define TINYRNN_C_LAYOUT_2 1", ""))      # C without the hosts' layout
    bad = subprocess.run(compile_c, capture_output=True, text=True)
    assert bad.returncode != 0 and "re-run tinyrnn export" in bad.stderr
    if build.toolchain_available("rv32"):                                       # the RV32 kernels read layout 3
        rv32 = [build.targets.bench_tool("rv32", "gcc"), *build.BENCH_TARGETS["rv32"], "-ffreestanding",
                *compile_c[1:]]
        assert subprocess.run(rv32, capture_output=True, text=True).returncode == 0
        header.write_text(current.replace("#define TINYRNN_C_LAYOUT_3 1", ""))
        bad = subprocess.run(rv32, capture_output=True, text=True)
        assert bad.returncode != 0 and "re-run tinyrnn export" in bad.stderr


def test_byte_layout_is_column_major_blocks_of_16_rows():
    """LAYOUT_BYTES: blocks of 16 rows (the last padded with zero rows to 4, 8 or 16), input a's columns then b's,
    per column the block's weights in row order; int8."""
    rng = np.random.default_rng(3)
    for rows, cols_a, cols_b in ((8, 3, 5), (13, 6, 0), (4, 1, 2), (3, 2, 2), (17, 5, 7), (16, 2, 3), (37, 4, 1)):
        wa = rng.integers(-127, 128, (rows, cols_a)).astype(np.int8)
        wb = rng.integers(-127, 128, (rows, cols_b)).astype(np.int8)
        flat = codegen.layout_weights(codegen.LAYOUT_BYTES, wa, wb)
        assert flat.dtype == np.int8
        at = 0
        for start in range(0, rows, 16):
            n = min(16, rows - start)
            width = 16 if n > 8 else 8 if n > 4 else 4
            for w in (wa, wb):
                for c in range(w.shape[1]):
                    column = flat[at:at + width]
                    assert list(column[:n]) == list(w[start:start + n, c]) and not column[n:].any()
                    at += width
        assert at == flat.size


def test_byte_layout_refuses_rows_whose_int32_sums_could_overflow():
    """Sum |w| * 2^15 must stay below 2^31 per row and input (docs/quantization.md, "32-bit accumulation")."""
    ok = np.full((1, 516), 127, dtype=np.int8)          # sum |w| = 65,532 <= 65,535
    codegen.layout_weights(codegen.LAYOUT_BYTES, ok, ok[:, :0])
    with pytest.raises(ValueError, match="overflow"):
        codegen.layout_weights(codegen.LAYOUT_BYTES, np.full((1, 517), 127, dtype=np.int8), ok[:, :0])


def test_ensure_exported_regenerates_c_of_another_layout(tmp_path, capsys):
    from tinyrnn.host.device.firmware import ensure_exported
    art = make_artifact(tmp_path / "m", d=2, units=4, k=2, n=2, steps=4)
    export(art, progress=False)
    header = art / "c" / "model_data.h"
    current = header.read_text()
    ensure_exported(art)                                              # current layout: left alone
    assert capsys.readouterr().out == ""
    header.write_text(current.replace("#define TINYRNN_C_LAYOUT_3 1", ""))   # C without the RV32 layout
    ensure_exported(art)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "regenerating C" in out and "layout" in out
    assert header.read_text() == current


# Each kernel path, and a bench target that compiles it (the plain-C one: Cortex-M4 with TINYRNN_PLAIN_C=1).
PATH_BUILDS = {"dsp": ("m4", ()), "m0": ("m0", ()), "m3": ("m3", ()), "rv32": ("rv32", ()),
               "c": ("m4", ("-DTINYRNN_PLAIN_C=1",))}


def test_table_bytes_is_the_kernel_paths_own(monkeypatch, tmp_path):
    """The tables' flash without a toolchain (c_code.table_bytes) is the kernel path's: the rv32 path's sigmoid and
    tanh are two words a segment, every other path's one; export's estimate for a core uses its path's figure."""
    from tinyrnn.quantize.emit import export as export_module
    assert set(PATH_BUILDS) == {core.kernel_path for core in targets.CORES.values()}
    assert codegen.table_bytes("rv32") == 9_218
    assert {codegen.table_bytes(path) for path in PATH_BUILDS if path != "rv32"} == {5_122}
    params = quantize_artifact(make_artifact(tmp_path / "m", d=3, units=8, k=2, n=2, steps=4))
    monkeypatch.setattr(export_module, "kernel_flash", lambda model_c_dir, core: None)   # no toolchain
    for core in ("cortex-m4", "rv32imc"):
        figures = export_module.flash_figures(params, tmp_path / "c", core)
        path = targets.CORES[core].kernel_path
        assert figures["code_bytes"] == codegen.table_bytes(path) and not figures["flash_bytes_measured"]
        assert figures["weight_bytes"] == codegen.weight_bytes(params, targets.CORES[core].weight_layout)


def test_kernel_flash_needs_the_cores_own_compiler(monkeypatch, tmp_path):
    """Export measures a core's flash with that core's cross compiler: with only the Arm one on PATH a RISC-V core
    gets the estimate (None here), as does a core the bench does not build for (it used to try either)."""
    from tinyrnn.quantize.emit import export as export_module
    from tinyrnn.quantize.toolchain import build
    arm = shutil.which("arm-none-eabi-gcc")
    if arm is None:
        pytest.skip("needs arm-none-eabi-gcc")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "arm-none-eabi-gcc").symlink_to(arm)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert build.toolchain_available("m4") and not build.toolchain_available("rv32")
    assert export_module.kernel_flash(tmp_path / "c", "rv32imc") is None
    assert export_module.kernel_flash(tmp_path / "c", "rv32im") is None        # no bench target for rv32im


@pytest.mark.parametrize("kernel_path", sorted(PATH_BUILDS))
def test_table_bytes_estimate_is_what_the_paths_objects_refer_to(tmp_path, kernel_path):
    """The estimate and the measured figure (build.kernel_model_flash: the table bytes the kernel objects refer to,
    compiled for a core of the path) agree on every kernel path."""
    from tinyrnn.quantize.toolchain import build
    from tinyrnn.quantize.toolchain.cases import make_model
    target, flags = PATH_BUILDS[kernel_path]
    if not build.toolchain_available(target):
        pytest.skip(f"no compiler for {target}")
    art, _ = make_model(tmp_path, "m", cell="gru", d=3, units=8, k=2)
    objects = build.build_arm_objects(art / "c", target, tmp_path / "obj", extra_flags=flags)
    assert build.kernel_model_flash(objects)["table_bytes"] == codegen.table_bytes(kernel_path)
