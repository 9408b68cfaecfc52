"""The firmware's stack as it really is: each emulated family and kernel path runs every kind of request and
error reply, and the board's own high-water mark (STATS: platform_reset paints the stack) must stay within what
firmware/stack.toml records as measured, the figure the build sizes the stack from. Needs the cross compilers and
QEMU (CI installs them)."""

import shutil

import numpy as np
import pytest

from tinyrnn.host.device import qemu
from tinyrnn.host.device.boards import STACK_DATA, load_board, stack_measured
from tinyrnn.host.device.firmware import build
from tinyrnn.quantize.errors import ErrorReply
from tinyrnn.host.link import spec
from tinyrnn.host.link.client import connect
from tinyrnn.quantize.reference.synthetic import make_artifact
from tinyrnn.quantize.twin.cells import TwinModel

pytestmark = pytest.mark.emulator

BOARDS = ["qemu-mps2-an386", "qemu-microbit", "qemu-mps2-an385", "qemu-riscv32-virt"]   # dsp, m0, m3, riscv c
# The recorded figures were measured with every byte arriving while the board waited for it. A retry under load
# can land a receive interrupt anywhere in a step instead, at most this much deeper (exception frame with the
# FPU's registers 104 B, the handler's own frame): allowed here, and inside the margin the build adds.
ONE_INTERRUPT = 160


def _tools(board):
    return shutil.which(board.cross + "gcc") and shutil.which(board.qemu_binary)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("stack")
    # the DSP path's layer step in one call (units % 4 == 0) and the general path (units 10, 3 layers: deepest)
    return [make_artifact(root / "gru", cell="gru", units=32, layers=2, n=3, steps=60, seed=1),
            make_artifact(root / "lstm", cell="lstm", units=16, k=3, task="regression", n=3, steps=60, seed=2),
            make_artifact(root / "gru10", cell="gru", units=10, layers=3, n=3, steps=60, seed=3)]


@pytest.mark.parametrize("board_name", BOARDS)
def test_the_stack_stays_within_its_measured_figure(board_name, models, tmp_path, monkeypatch):
    board = load_board(board_name)
    if not _tools(board):
        pytest.skip(f"needs {board.cross}gcc and {board.qemu_binary}")
    measured, margin = stack_measured(board.family, board.kernel_path)
    monkeypatch.setenv("BUILD_DIR", str(tmp_path / "fw"))
    deepest = 0
    for model in models:
        record = qemu.start(board, build(board, model), run_dir=tmp_path)
        try:
            twin = TwinModel.from_artifact_dir(model)
            client = connect(record.port, expected_hash=twin.model_hash)
            try:
                x = np.random.default_rng(0).integers(-3000, 3000, (60, client.info.input_dim)).astype(np.int16)
                client.reset()
                for row in x[:5]:
                    client.step(row)
                client.sequence(x, per_step=True)
                client.sequence(x, per_step=False)
                client.send_raw(b"\x00\x11\x22\x33\x00")                  # a damaged frame: an error reply
                client.read_frame(timeout=2.0)
                with pytest.raises(ErrorReply):                          # an unknown command: an error reply
                    client.request(0x7E)
                stats = client.board_stats()
            finally:
                client.transport.close()
        finally:
            qemu.stop(board.name, run_dir=tmp_path)
        assert stats.frame_errors >= 1 and stats.stack_size == board.stack_size == measured + margin + \
            (-(measured + margin)) % 64, stats
        assert 0 < stats.stack_used <= measured + ONE_INTERRUPT, (
            f"{board.name}: the stack reached {stats.stack_used} B, more than one interrupt frame deeper than the "
            f"{measured} B {STACK_DATA.name} records for {board.family}-{board.kernel_path}: measure again and "
            "write the new figure there (the build adds the margin)")
        deepest = max(deepest, stats.stack_used)
    print(f"{board.name} ({board.family}-{board.kernel_path}): stack high-water {deepest} B, recorded {measured} B, "
          f"reserved {board.stack_size} B")


# Every emulated core family whose emulated memory map faults below RAM: M0 (nRF51), M4 (STM32F405), RV32 (virt, its
# PMP guard). Not QEMU's mps2 machines: below their RAM (0x20000000) lies a region QEMU models as an unimplemented
# device, which ignores writes and reads 0 instead of faulting, so an overflow there runs on until a garbage
# return faults, or QEMU stops on a lockup (measured: either, from run to run). An MPU guard region would fix it.
GUARDED = ["qemu-microbit", "qemu-netduinoplus2", "qemu-riscv32-virt"]


@pytest.mark.parametrize("board_name", GUARDED)
def test_a_stack_overflow_faults_and_the_host_says_so_in_one_line(board_name, tmp_path, monkeypatch):
    """The stack sits where an overflow faults (the bottom of RAM; on RISC-V above a PMP guard): a test build whose
    RESET recurses forever (-DTINYRNN_TEST_STACK_OVERFLOW) ends in the FAULT report, one line on the host, instead
    of running on over .data/.bss."""
    board = load_board(board_name)
    if not _tools(board):
        pytest.skip(f"needs {board.cross}gcc and {board.qemu_binary}")
    monkeypatch.setenv("BUILD_DIR", str(tmp_path / "fw"))
    monkeypatch.setenv("EXTRA_CFLAGS", "-DTINYRNN_TEST_STACK_OVERFLOW=1")
    record = qemu.start(board, build(board, None), run_dir=tmp_path)
    try:
        client = connect(record.port)
        try:
            client.board_stats()                            # the board answers before the overflow
            with pytest.raises(ErrorReply) as fault:
                client.reset()
        finally:
            client.transport.close()
    finally:
        qemu.stop(board_name, run_dir=tmp_path)
    assert fault.value.code == spec.ERRORS["FAULT"]
    expected = "store access fault (mcause 7)" if board.family == "riscv" else \
        "HardFault (exception 3)"
    line = fault.value.one_line()
    assert "\n" not in line and "the board stopped on a fault" in line and expected in line, line


def test_the_harness_reports_a_fault_in_one_line(models, tmp_path, monkeypatch):
    """`tinyrnn harness` on a board whose first SEQUENCE overflows its stack: exit 2, one line naming the fault."""
    import subprocess
    import sys
    board = load_board("qemu-netduinoplus2")             # a guarded board (GUARDED above), Cortex-M4 as the default
    if not _tools(board):
        pytest.skip(f"needs {board.cross}gcc and {board.qemu_binary}")
    monkeypatch.setenv("BUILD_DIR", str(tmp_path / "fw"))
    monkeypatch.setenv("EXTRA_CFLAGS", "-DTINYRNN_TEST_STACK_OVERFLOW=1")
    record = qemu.start(board, build(board, models[0]), run_dir=tmp_path)
    try:
        proc = subprocess.run([sys.executable, "-m", "tinyrnn.host.cli", "harness", "--port", record.port,
                               "--model", str(models[0])], capture_output=True, text=True, timeout=120)
    finally:
        qemu.stop(board.name, run_dir=tmp_path)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and len(errors) == 1, proc.stdout + proc.stderr
    assert "the board stopped on a fault (HardFault (exception 3)) while answering SEQUENCE" in errors[0]
