"""The link under stress, on a real emulated board behind real ptys (no mocked board): a noisy line
(host/link/faults.py at fixed seeds), QMP resets in the middle of a run, a second client, and the firmware's
interrupt-driven receive. Needs arm-none-eabi-gcc and qemu-system-arm (CI installs both)."""

import fcntl
import os
import select
import shutil
import struct
import termios
import time
import tty

import numpy as np
import pytest

from tinyrnn.host.check.harness import evaluate
from tinyrnn.host.device import qemu
from tinyrnn.host.device.boards import load_board
from tinyrnn.host.device.firmware import build
from tinyrnn.host.errors import PortBusy, SessionTaken
from tinyrnn.host.link import spec
from tinyrnn.host.link.client import Client, connect
from tinyrnn.host.link.faults import FaultProxy
from tinyrnn.host.link.framing import FrameReader, encode_frame
from tinyrnn.host.link.transport import Transport
from tinyrnn.quantize.reference.synthetic import make_artifact
from tinyrnn.quantize.twin.cells import TwinModel

BOARD = "qemu-mps2-an386"
pytestmark = pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                                reason="needs arm-none-eabi-gcc and qemu-system-arm")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    # d=6, k=4 as the default model: 50 steps per PER_STEP chunk, so sequences of 60 steps take two chunks.
    # 64 units: a final-only SEQUENCE of 85 steps computes for long enough (~1.4 M instructions) to time.
    return make_artifact(tmp_path_factory.mktemp("link") / "model", units=64, n=10, steps=60, seed=3)


def _build(board_name, model_dir, build_dir, extra_cflags=""):
    saved = {k: os.environ.get(k) for k in ("BUILD_DIR", "EXTRA_CFLAGS")}
    os.environ["BUILD_DIR"], os.environ["EXTRA_CFLAGS"] = str(build_dir), extra_cflags
    try:
        return build(load_board(board_name), model_dir)
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


@pytest.fixture(scope="module")
def elf(model, tmp_path_factory):
    return _build(BOARD, model, tmp_path_factory.mktemp("fw"))


@pytest.fixture
def emulator(elf, tmp_path):
    """The firmware on QEMU with a QMP socket; yields (RunRecord, socket path) and stops it by pid."""
    sock = tmp_path / "qmp.sock"
    record = qemu.start(load_board(BOARD), elf, run_dir=tmp_path,
                        extra_args=["-qmp", f"unix:{sock},server=on,wait=off"])
    try:
        yield record, sock
    finally:
        qemu.stop(BOARD, run_dir=tmp_path)


# --- a noisy line ----------------------------------------------------------------------------------------

CLEAN = {}       # the clean run's results, once per module

@pytest.mark.parametrize("kinds", [("corrupt",), ("drop",), ("duplicate",), ("corrupt", "drop", "duplicate")])
def test_noisy_link_reaches_the_clean_verdict(emulator, model, kinds):
    """Each byte damaged with probability 1e-3 (per kind, both directions): the run completes, bit-exact, with
    the clean run's verdict, and says what the link cost."""
    record, _ = emulator
    if "clean" not in CLEAN:
        CLEAN["clean"] = evaluate(record.port, model, progress=False)[0]
    clean = CLEAN["clean"]
    with FaultProxy(record.port, p=1e-3, kinds=kinds, seed=11) as proxy:
        noisy, *_ = evaluate(proxy.port, model, progress=False)
        injected = sum(sum(d.values()) for d in (proxy.stats()["to_board_faults"], proxy.stats()["to_host_faults"]))
    assert injected > 0
    assert noisy["stopped"] is None and noisy["bit_exact"]["mismatched_values"] == 0
    assert noisy["passed"] == clean["passed"] and noisy["sequences"] == clean["sequences"]
    assert noisy["link"]["retries"] > 0 and clean["link"]["retries"] == 0


# --- resets ----------------------------------------------------------------------------------------------

def test_resets_mid_run_are_detected_and_never_a_false_verdict(emulator, model):
    """QMP system_reset at 4 points of a run (between chunks of one sequence and between sequences): each is
    detected (BAD_SESSION 0), the interrupted sequence re-run from its start, and the verdict stays bit-exact."""
    record, sock = emulator
    reset_at = {7, 16, 25, 34}              # host frames (two 0x00 per request: resync + delimiter)
    done = []

    def maybe_reset(n):
        if n in reset_at:
            qemu.qmp(sock, "system_reset")
            done.append(n)
    with FaultProxy(record.port, on_host_frame=maybe_reset) as proxy:
        results, *_ = evaluate(proxy.port, model, progress=False)
    assert len(done) == 4
    assert results["stopped"] is None and results["bit_exact"]["mismatched_values"] == 0
    assert results["link"]["resets"] == 4 and results["link"]["reruns"] >= 4


# --- one client at a time --------------------------------------------------------------------------------

def test_a_second_client_is_refused_clearly(emulator):
    record, _ = emulator
    with Transport(record.port):
        with pytest.raises(PortBusy, match="busy"):
            Transport(record.port)


def test_a_host_that_ignores_the_lock_takes_the_session_and_the_first_is_told(emulator, model):
    record, _ = emulator
    twin = TwinModel.from_artifact_dir(model)
    first = connect(record.port, expected_hash=twin.model_hash)
    try:
        with Transport(record.port, exclusive=False) as other:
            Client(other).hello()
            with pytest.raises(SessionTaken, match="another host"):
                first.sequence(np.zeros((3, 6), dtype=np.int16))
    finally:
        first.transport.close()


# --- interrupt-driven receive ----------------------------------------------------------------------------
# Not yet reliable, so not in CI: QEMU's main loop stops polling the tty while the UART register is full and
# may not look again for a while, so even the interrupt-driven firmware sometimes gets the bytes only at the
# end of its compute (measured: fails 1 in 2-3 runs per board here). TINYRNN_RX_TIMING=1 runs them.
rx_timing = pytest.mark.skipif(not os.environ.get("TINYRNN_RX_TIMING"),
                               reason="timing-dependent on QEMU's main loop; TINYRNN_RX_TIMING=1 runs it")

def _backlog(fd):
    """Bytes written to the board's tty that the emulated UART has not taken yet."""
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]


def _pipelined_backlog(elf, model, tmp_path, board_name=BOARD):
    """Start QEMU on a pty this test owns, send a long SEQUENCE and right behind it a RESET; return when the
    backlog first reached 0 (None: not before the reply), when the SEQUENCE's reply began (seconds after
    sending), both replies and the inputs.

    QEMU's UART models take a byte only when the receive register is free, the rest waits in the tty: so a
    board that reads its UART only between requests (polled) leaves the RESET's bytes in the tty until it has
    computed and sent the SEQUENCE's reply, exactly the bytes that overrun a real UART. A board that receives
    by interrupt takes them while it computes: the backlog drops to 0 long before the reply starts. (Times, not
    a sample at the reply, because the tty hands the reply to this end a little after the board wrote it.)"""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    board = load_board(board_name)
    log = open(tmp_path / "qemu.log", "wb")
    import subprocess
    cmd = qemu.qemu_command(board, elf, serial=os.ttyname(slave))
    i = cmd.index("-icount")
    del cmd[i:i + 2]       # without -icount: under it QEMU may hold device input until the CPU yields
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    reader = FrameReader()

    def frames_until(count, timeout=10.0):
        got, deadline = [], time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            if select.select([master], [], [], 0.05)[0]:
                got += reader.feed(os.read(master, 4096))
        return got
    try:
        session = 0x2A2A
        os.write(master, b"\x00" + encode_frame(spec.COMMANDS["HELLO"], 1, session=session))
        info = frames_until(1)
        assert info, "no HELLO reply"
        n = struct.unpack_from("<H", info[0].payload, 24)[0]              # seq_max_steps_final
        x = np.random.default_rng(0).integers(-2000, 2000, (n, 6)).astype("<i2")
        seq = encode_frame(spec.COMMANDS["SEQUENCE"], 2, struct.pack(spec.SEQUENCE_FORMAT,
                           spec.SEQUENCE_FLAGS["RESET_FIRST"], 0, n) + x.tobytes(), session=session)
        reset = encode_frame(spec.COMMANDS["RESET"], 3, session=session)
        started = time.monotonic()
        os.write(master, seq + reset)
        drained = None
        while not select.select([master], [], [], 0)[0]:                # until the reply's first byte
            if drained is None and _backlog(slave) == 0:
                drained = time.monotonic() - started
        replied = time.monotonic() - started
        replies = frames_until(2)
        return drained, replied, replies, x
    finally:
        proc.kill()
        proc.wait()
        log.close()
        os.close(master)
        os.close(slave)


@rx_timing
@pytest.mark.parametrize("board_name", [BOARD, "qemu-netduinoplus2", "qemu-microbit"])   # cmsdk, stm32, nrf-uart
def test_the_board_takes_bytes_while_it_computes(model, tmp_path, board_name):
    elf = _build(board_name, model, tmp_path / "fw")
    drained, replied, replies, x = _pipelined_backlog(elf, model, tmp_path, board_name)
    assert drained is not None and drained < 0.5 * replied, \
        f"bytes waited in the tty while the board computed ({drained} of {replied:.4f} s): they would overrun on silicon"
    assert [f.type for f in replies] == [spec.COMMANDS["SEQUENCE"] | 0x80, spec.COMMANDS["RESET"] | 0x80]
    twin = TwinModel.from_artifact_dir(model)
    final = np.frombuffer(replies[0].payload, "<i4", offset=spec.SEQUENCE_REPLY_HEADER_SIZE)
    assert np.array_equal(final, twin.run(x[None].astype(np.int16))[0, -1])      # nothing dropped


@rx_timing
def test_the_receive_test_fails_with_polled_receive(model, tmp_path):
    """The same test against a build with the old polled receive: the bytes wait in the tty (a fail), so the
    test above really tells the two apart."""
    polled = _build(BOARD, model, tmp_path / "fw-polled", "-DTINYRNN_UART_RX_POLLED=1")
    drained, replied, replies, _ = _pipelined_backlog(polled, model, tmp_path)
    assert drained is None or drained > 0.8 * replied, (drained, replied)
    assert len(replies) == 2                       # QEMU holds the bytes, so nothing is lost here; on silicon it would be
