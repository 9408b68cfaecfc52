"""The exported C library's live example (examples/live: <name>_live_line over the recorded signal) read by
`tinyrnn monitor` from a pty, as from a board's serial port: built for the host (latency in µs) and for the
bare-metal emulated Cortex-M4 (mps2-an386 under -icount, its semihosting output on the pty, latency in
instructions). The twin check passes bit-exact over 1,000+ steps; the inputs the board reports are the ones
push_float makes of the recorded signal; the live line fits <NAME>_LIVE_LINE_MAX."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tty
from pathlib import Path

import numpy as np
import pytest

from tinyrnn.host.formats.live_lines import LiveStep, parse_line
from tinyrnn.quantize.artifact import Artifact
from tinyrnn.quantize.emit import c_library as lib
from tinyrnn.quantize.emit.recorded_signal import RecordedSignal
from tinyrnn.quantize.twin import preprocess as pp
from tinyrnn.quantize.twin.cells import TwinModel

from default_model import DEFAULT_MODEL, require_default_model

pytestmark = pytest.mark.emulator

MODEL = DEFAULT_MODEL
STEPS = 1000
needs_cmake = pytest.mark.skipif(not shutil.which("cmake"), reason="cmake not installed")
needs_arm = pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                               reason="arm-none-eabi-gcc / qemu-system-arm not installed")


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    require_default_model("kernel.npz")
    out = tmp_path_factory.mktemp("lib") / "lib"
    lib.write_library(MODEL, out)
    return out


def build(out: Path, board: str, *defs: str) -> Path:
    name = json.loads((out / lib.MARKER).read_text())["name"]
    build_dir = out / f"build-live-{board}"
    cmd = ["cmake", "-S", str(out), "-B", str(build_dir), f"-DSTREAM_BOARD={board}", f"-DLIVE_STEPS={STEPS}",
           f"-D{name.upper()}_STRICT=ON", *defs]
    if board != "host":
        cmd += [f"-DCMAKE_TOOLCHAIN_FILE={out / 'cmake' / 'arm-none-eabi.cmake'}",
                "-DTINYRNN_CPU=cortex-m4"]
    subprocess.run(cmd, check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build_dir), "-j2", "--target", "live"], check=True, capture_output=True)
    return build_dir / "examples" / "live" / ("live" if board == "host" else "live.elf")


def monitor_board(board_cmd: list[str]) -> tuple[int, str, str]:
    """`tinyrnn monitor --plain` on a pty's slave; once it listens, the board starts with its output on the
    master (the way a board's UART reaches a USB serial port; QEMU's semihosting output is on its stderr)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    proc = subprocess.Popen([sys.executable, "-m", "tinyrnn.host.cli", "monitor", "--port", os.ttyname(slave),
                             "--model", str(MODEL), "--plain", "--steps", str(STEPS)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    board = subprocess.Popen(board_cmd, stdout=master, stderr=master, stdin=subprocess.DEVNULL) \
        if first.startswith("monitoring ") else None
    try:
        out, err = proc.communicate(timeout=300)
        if board is not None:
            board.wait(timeout=120)
    finally:
        proc.kill()
        if board is not None:
            board.kill()
            board.wait()
        os.close(master)
        os.close(slave)
    return proc.returncode, first + out, err


def expected_inputs() -> np.ndarray:
    """push_float's kernel inputs of the recorded signal, wrapped around as the example reads it."""
    signal = RecordedSignal.from_artifact(Artifact.open(MODEL), sequences=lib.LIVE_SEQUENCES)
    pre = lib.Preprocess(TwinModel.from_artifact_dir(MODEL).params, 1)
    x_q = pp.quantize_frames(pp.float_to_raw(signal.frames, pre.float_bits), pre.float_fold)
    return np.concatenate([x_q] * (STEPS // len(x_q) + 1))[:STEPS]


def check_session(code, text, err, unit):
    assert code == 0, err + text[-2000:]
    hash_ = TwinModel.from_artifact_dir(MODEL).model_hash
    assert f"board started: model {hash_} (matches --model), 6 inputs, 4 outputs, latency in {unit}" in text
    steps = [line for line in text.splitlines() if line.startswith("step ")]
    assert len(steps) == STEPS and steps[-1].endswith(f"bit-exact so far: {STEPS} steps")
    assert f"twin check: bit-exact so far: {STEPS} steps" in text
    assert text.split("latency p50 ")[1].splitlines()[0].endswith(f" {unit}")


@needs_cmake
def test_live_example_on_the_host_bit_exact_through_a_pty(library):
    exe = build(library, "host")
    raw = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, check=True).stdout
    steps = [parse_line(line) for line in raw.splitlines() if line.startswith("@tr step=")]
    assert len(steps) == STEPS and all(isinstance(s, LiveStep) for s in steps)
    np.testing.assert_array_equal(np.array([s.x for s in steps]), expected_inputs())
    name = json.loads((library / lib.MARKER).read_text())["name"].upper()
    header = (library / "src" / f"{name.lower()}.h").read_text()
    limit = int(header.split(f"#define {name}_LIVE_LINE_MAX (")[1].split(" ")[0]) + 7 * 6 + 12 * 4
    assert max(len(line) + 2 for line in raw.splitlines()) <= limit
    check_session(*monitor_board([str(exe)]), "µs")


@needs_cmake
@needs_arm
def test_live_example_on_emulated_cortex_m4_bit_exact_through_a_pty(library):
    elf = build(library, "mps2-an386", "-DLIVE_INSTRUCTIONS_PER_TICK=40")
    code, text, err = monitor_board(["qemu-system-arm", "-M", "mps2-an386", "-display", "none", "-monitor", "none",
                                     "-serial", "none", "-icount", "shift=0,align=off,sleep=off",
                                     "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)])
    check_session(code, text, err, "instructions")
    p50 = float(text.split("latency p50 ")[1].split(" ")[0].replace(",", ""))
    assert 3_000 < p50 < 20_000, p50       # a GRU-32 step plus push_float, counted in executed instructions
