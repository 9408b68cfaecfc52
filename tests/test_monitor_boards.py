"""`tinyrnn monitor` against boards that run the model on their own (recorded) samples and print live lines:
the emulated MicroPython board (mpy-qemu-mps2-an386, its user script firmware/micropython/examples/
live_recorded.py over the natmod) and the exported C library's `live` example built for the host. The twin check
passes bit-exact over 1,000+ steps, the plain view is captured, a wrong model is refused, and the session saved
with --out is accepted by `tinyrnn predict` and gives back exactly the board's inputs (which are also exactly
what the library's push_float makes of the recorded signal: the board's pre-processing is the library's)."""
from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from tinyrnn.host.check import recordings
from tinyrnn.host.device import qemu
from tinyrnn.host.device.boards import load_board
from tinyrnn.host.device.micropython import live_script
from tinyrnn.quantize.artifact import Artifact
from tinyrnn.quantize.emit.c_library import Preprocess
from tinyrnn.quantize.emit.recorded_signal import RecordedSignal
from tinyrnn.quantize.errors import ToolMissing
from tinyrnn.quantize.reference.synthetic import make_artifact
from tinyrnn.quantize.twin import preprocess as pp
from tinyrnn.quantize.twin.cells import TwinModel

from default_model import DEFAULT_MODEL, require_default_model

pytestmark = pytest.mark.emulator

MODEL = DEFAULT_MODEL
STEPS = 1000
SEQUENCES = 4                   # 4 recorded sequences of 100 frames: the script wraps around them


def monitor(port, model, *extra):
    return subprocess.Popen([sys.executable, "-m", "tinyrnn.host.cli", "monitor", "--port", port, "--model",
                             str(model), "--plain", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_listening(proc):
    """Until the monitor says it listens (it prints that once the port is open)."""
    line = proc.stdout.readline()
    assert line.startswith("monitoring "), line + proc.stderr.read()
    return line


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    if shutil.which(qemu.QEMU) is None:
        pytest.skip(f"{qemu.QEMU} not installed")
    require_default_model("kernel.npz")
    emulated = load_board("mpy-qemu-mps2-an386")
    run_dir = tmp_path_factory.mktemp("run")
    try:
        record, image = live_script.start_board(emulated, MODEL, run_dir=run_dir, sequences=SEQUENCES)
    except ToolMissing as e:
        pytest.skip(str(e))
    yield emulated, record, image
    qemu.stop(emulated.name, run_dir)


def expected_inputs(model_dir, steps):
    """What push_float makes of the recorded signal, wrapped around as the script reads it, per sequence."""
    signal = RecordedSignal.from_artifact(Artifact.open(model_dir), sequences=SEQUENCES)
    pre = Preprocess(TwinModel.from_artifact_dir(model_dir).params, 1)
    x_q = pp.quantize_frames(pp.float_to_raw(signal.frames, pre.float_bits), pre.float_fold)
    bounds = list(signal.starts) + [len(x_q)]
    pieces = [x_q[a:b] for a, b in zip(bounds, bounds[1:])]
    out, left = [], steps
    while left > 0:
        for piece in pieces:
            if left > 0:
                out.append(piece[:left])
                left -= len(out[-1])
    return out


def test_monitor_micropython_board_bit_exact_over_1000_steps(board, tmp_path):
    emulated, record, image = board
    out = tmp_path / "session.csv"
    proc = monitor(record.port, MODEL, "--steps", str(STEPS), "--out", str(out))
    try:
        wait_listening(proc)
        live_script.start_script(record.port, live_script.script_code(emulated, image.stat().st_size, STEPS))
        text, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    print(text[-3000:])
    assert proc.returncode == 0, err
    hash_ = TwinModel.from_artifact_dir(MODEL).model_hash
    assert f"board started: model {hash_} (matches --model), 6 inputs, 4 outputs, latency in instructions" in text
    steps = [s for s in text.splitlines() if s.startswith("step ")]
    assert len(steps) == STEPS
    assert steps[0].startswith("step 0 ") and "| badminton " in steps[0] and " instructions | " in steps[0]
    assert steps[-1].endswith(f"bit-exact so far: {STEPS} steps")
    assert f"twin check: bit-exact so far: {STEPS} steps" in text
    assert "latency p50 " in text and " instructions" in text.split("latency p50 ")[1].splitlines()[0]
    seen = text.split("classes seen (argmax per step): ")[1].splitlines()[0]
    assert all(name in seen for name in ("badminton", "running", "standing", "walking")), seen
    # --out: predict takes it, and it gives back the board's inputs, which are push_float's of the signal
    rec = recordings.load_recordings(out)
    prepared = recordings.prepare(rec, TwinModel.from_artifact_dir(MODEL), Artifact.open(MODEL).manifest)
    wanted = expected_inputs(MODEL, STEPS)
    assert list(prepared.lengths) == [len(w) for w in wanted]
    for row, w in enumerate(wanted):
        np.testing.assert_array_equal(prepared.x_q[row, :len(w)], w)
    predicted = subprocess.run([sys.executable, "-m", "tinyrnn.host.cli", "predict", "--model", str(MODEL), str(out)],
                               capture_output=True, text=True, timeout=300)
    assert predicted.returncode == 0, predicted.stderr
    assert f"{len(wanted)} sequences / {STEPS} steps" in predicted.stdout


def test_monitor_refuses_the_board_when_the_model_differs(board, tmp_path):
    emulated, record, image = board
    other = make_artifact(tmp_path / "other", d=6, k=4, n=4, steps=10, seed=5)
    proc = monitor(record.port, other, "--seconds", "120")
    try:
        wait_listening(proc)
        live_script.start_script(record.port, live_script.script_code(emulated, image.stat().st_size, 20))
        _, err = proc.communicate(timeout=200)
    finally:
        proc.kill()
    assert proc.returncode == 2
    assert err.strip().splitlines() == [
        f"error: the board runs model {TwinModel.from_artifact_dir(MODEL).model_hash}, not "
        f"{TwinModel.from_artifact_dir(other).model_hash} (the --model directory) — flash this model to the board, "
        "or give --model the directory of the model it runs"]
