"""`tinyrnn record` from emulated boards (issue 23's Done-when): the exported C library's examples/record on a
bare-metal board (qemu-mps2-an386, its output on a pty: host/device/example_board.py) and a user script on an
emulated MicroPython board (mpy-qemu-mps2-an386), both reading a recorded signal that stands in for a sensor.
What is recorded is exactly the signal's frames (to the 6 decimals the boards print), in the CSV format; a board
killed mid-recording leaves every finished sequence (and the cut one) in the file; the file trains a model with
`tinyrnn train --data` unchanged."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinyrnn.host.device.boards import load_board
from tinyrnn.host.device.example_board import build_example, start_example, start_micropython_script
from tinyrnn.host.formats.sequences import read_sequence_file
from tinyrnn.quantize.artifact import Artifact
from tinyrnn.quantize.emit import c_library
from tinyrnn.quantize.emit.recorded_signal import RecordedSignal, micropython_module
from tinyrnn.quantize.sources import MICROPYTHON_DIR

from default_model import DEFAULT_MODEL, require_default_model

pytestmark = [pytest.mark.emulator,
              pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")
                                      and shutil.which("cmake")),
                                 reason="needs arm-none-eabi-gcc, qemu-system-arm and cmake")]
SCRIPT = MICROPYTHON_DIR / "examples" / "record_samples.py"


def record(port, out, *options, timeout=60):
    """`tinyrnn record` as a user runs it; returns (exit status, stdout, stderr)."""
    cmd = [sys.executable, "-m", "tinyrnn.host.cli", "record", "--port", port, "--out", str(out), *options]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr


def signal_of(model=DEFAULT_MODEL) -> RecordedSignal:
    return RecordedSignal.from_artifact(Artifact.open(model))


def assert_consecutive_frames(sequences, frames, decimals=6):
    """The recorded samples are the signal's frames one after another (wrapping), as printed with `decimals`."""
    printed = np.round(frames.astype(np.float64), decimals)
    got = np.concatenate(sequences).astype(np.float64)
    # the boards scale by 10^decimals in float32 (C) or format a float32 (MicroPython): beyond float32's 24 bits the
    # last digits are not exact, a few units of 2^-24 of the value
    tolerance = 1.5 * 10.0 ** -decimals + 3e-7 * np.abs(printed)
    n = len(printed)
    starts = [s for s in range(n) if (np.abs(printed[(s + np.arange(len(got))) % n] - got)
                                      <= tolerance[(s + np.arange(len(got))) % n]).all()]
    assert starts, "the recorded samples are not consecutive frames of the recorded signal"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    require_default_model()
    out = tmp_path_factory.mktemp("record") / "lib"
    c_library.write_library(DEFAULT_MODEL, out)
    return out


@pytest.fixture(scope="module")
def record_elf(library):
    return build_example(library, load_board("qemu-mps2-an386"), "record")


@pytest.mark.parametrize("board_name", ["qemu-mps2-an386", "qemu-riscv32-virt"])
def test_record_from_the_library_example_on_a_bare_metal_board(library, board_name, tmp_path):
    if board_name == "qemu-riscv32-virt" and not (shutil.which("riscv64-unknown-elf-gcc")
                                                  and shutil.which("qemu-system-riscv32")):
        pytest.skip("needs riscv64-unknown-elf-gcc and qemu-system-riscv32")
    elf = build_example(library, load_board(board_name), "record")
    out = tmp_path / "rec.csv"
    with start_example(board_name, elf) as board:
        rc, text, err = record(board.port, out, "--label", "badminton", "--samples", "12", "--repeat", "2")
    assert rc == 0, text + err
    assert "channels: 6 (ch0, ch1, ch2, ch3, ch4, ch5" in text and "rate: board says 10 Hz; measured" in text
    assert "recorded badminton-001: 12 samples" in text and "recorded badminton-002: 12 samples" in text
    f = read_sequence_file(out)
    assert f.ids == ["badminton-001", "badminton-002"] and f.labels == ["badminton"] * 2
    assert f.channels == [f"ch{i}" for i in range(6)]
    assert_consecutive_frames(f.sequences, signal_of().frames)


def test_a_board_killed_mid_recording_keeps_every_finished_sequence(record_elf, tmp_path):
    out = tmp_path / "rec.csv"
    with start_example("qemu-mps2-an386", record_elf) as board:
        cmd = [sys.executable, "-m", "tinyrnn.host.cli", "record", "--port", board.port, "--out", str(out),
               "--label", "w", "--samples", "8", "--repeat", "10"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (out.is_file() and out.read_text().count("w-002,") == 8):
            time.sleep(0.1)
        time.sleep(0.35)                                  # a few samples into the third recording
        os.killpg(board.pid, signal.SIGKILL)             # the emulator goes away, as a board unplugged
        text, err = proc.communicate(timeout=30)
    assert proc.returncode == 2, text + err
    assert "the port went away" in text and "error: read from" in err and "cut short" in text
    f = read_sequence_file(out)
    lengths = [len(s) for s in f.sequences]
    assert f.ids[:2] == ["w-001", "w-002"] and lengths[:2] == [8, 8] and len(lengths) == 3 and 0 < lengths[2] < 8
    assert_consecutive_frames(f.sequences, signal_of().frames)


@pytest.fixture
def micropython_board(tmp_path):
    require_default_model()
    from tinyrnn.host.device.micropython import builds
    try:
        builds.source_dir(fetch=False)
    except builds.MicroPythonMissing as e:
        pytest.skip(f"{e} (MICROPY_DIR)")
    with start_micropython_script("mpy-qemu-mps2-an386", SCRIPT, {"recorded_signal": micropython_module(signal_of())},
                                  work_dir=tmp_path / "mpy") as board:
        yield board


def test_record_from_a_user_script_on_an_emulated_micropython_board(micropython_board, tmp_path):
    out = tmp_path / "rec.csv"
    rc, text, err = record(micropython_board.port, out, "--label", "standing", "--samples", "10", "--repeat", "2",
                           "--split", "test")
    assert rc == 0, text + err
    assert "recorded standing-002: 10 samples" in text and "rate:" in text
    f = read_sequence_file(out)
    assert f.ids == ["standing-001", "standing-002"] and f.splits == ["test", "test"]
    assert_consecutive_frames(f.sequences, signal_of().frames)


@pytest.mark.tensorflow
def test_a_recorded_file_trains_a_model_unchanged(record_elf, tmp_path):
    """Three classes from the board, then `tinyrnn train --data FILE` on the file as it is (tiny epochs)."""
    pytest.importorskip("tensorflow")
    out = tmp_path / "rec.csv"
    with start_example("qemu-mps2-an386", record_elf) as board:
        for label in ("standing", "walking", "running"):
            rc, text, err = record(board.port, out, "--label", label, "--samples", "6", "--repeat", "4")
            assert rc == 0, text + err
    assert len(read_sequence_file(out)) == 12
    model = tmp_path / "model"
    proc = subprocess.run([sys.executable, "-m", "tinyrnn.host.cli", "train", "--data", str(out), "--epochs", "1",
                           "--units", "4", "--out", str(model)], capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    manifest = Artifact.open(model).manifest
    assert list(manifest.classes) == ["running", "standing", "walking"]
    assert list(manifest.channels) == [f"ch{i}" for i in range(6)]
    assert Path(model / "model.json").is_file()
