"""The link under stress, on a real emulated board behind real ptys (no mocked board): a noisy line
(host/link/faults.py at fixed seeds), QMP resets in the middle of a run, a second client, and the firmware's
interrupt-driven receive. Needs arm-none-eabi-gcc and qemu-system-arm (CI installs both)."""

import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
import tty

from pathlib import Path

import numpy as np
import pytest

from tinyrnn.host.check.harness import STOPPED_RUN, evaluate, output_dir, write_outputs
from tinyrnn.host.device import qemu
from tinyrnn.host.device.boards import load_board
from tinyrnn.host.device.firmware import build
from tinyrnn.quantize.errors import PortBusy, SessionTaken
from tinyrnn.host.link import spec
from tinyrnn.host.link.client import Client, connect
from tinyrnn.host.link.faults import FaultProxy
from tinyrnn.host.link.framing import FrameReader, encode_frame
from tinyrnn.host.link.transport import Transport
from tinyrnn.quantize.reference.synthetic import make_artifact
from tinyrnn.quantize.twin.cells import TwinModel

BOARD = "qemu-mps2-an386"
pytestmark = [pytest.mark.emulator,
              pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                                 reason="needs arm-none-eabi-gcc and qemu-system-arm")]


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


def test_one_byte_in_a_hundred_per_kind_completes_with_default_options(tmp_path):
    """Corrupt + drop + duplicate, each at 1e-2 in both directions (about 1 byte in 30 damaged): with default
    options the run completes bit-exact (retries follow the measured line; nothing stops at HELLO), and the link's
    cost is in the results. A short run (3 sequences of at most 10 steps): the full figure is in the note."""
    small = make_artifact(tmp_path / "small", units=16, n=3, steps=10, seed=5)
    board = load_board(BOARD)
    record = qemu.start(board, _build(BOARD, small, tmp_path / "fw"), run_dir=tmp_path)
    try:
        with FaultProxy(record.port, p=1e-2, seed=4) as proxy:
            results, *_ = evaluate(proxy.port, small, progress=False)
    finally:
        qemu.stop(BOARD, run_dir=tmp_path)
    link = results["link"]
    assert results["stopped"] is None and results["sequences"] == 3
    assert results["bit_exact"]["mismatched_values"] == 0
    assert link["damaged_replies"] + link["damaged_requests"] > link["requests"]   # the line was that bad
    assert 0 < link["byte_error_estimate"] < 0.1


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


# --- an emulator restarted on a new pty ------------------------------------------------------------------

def _restart_after(monkeypatch, n_sequences, restart):
    """Call restart() once, right after the client's n-th SEQUENCE request was answered."""
    original, count = Client.request, [0]

    def request(self, ftype, payload=b""):
        reply = original(self, ftype, payload)
        if ftype == spec.COMMANDS["SEQUENCE"]:
            count[0] += 1
            if count[0] == n_sequences:
                restart()
        return reply
    monkeypatch.setattr(Client, "request", request)


def test_an_emulator_restarted_on_a_new_pty_is_followed(emulator, elf, model, tmp_path, monkeypatch):
    """The emulator is stopped and started again (as `tinyrnn flash` does) in the middle of a sequence: the old pty
    is gone, the run record names the new one, the harness reconnects there and re-runs the sequence: the verdict
    is the clean one, bit-exact."""
    record, _ = emulator
    new = []
    _restart_after(monkeypatch, 5, lambda: new.append(qemu.start(load_board(BOARD), elf, run_dir=tmp_path)))
    results, *_ = evaluate(record.port, model, progress=False, link_options={"run_dir": tmp_path})
    assert new and new[0].port != record.port
    assert results["stopped"] is None and results["bit_exact"]["mismatched_values"] == 0
    assert results["sequences"] == 10 and results["link"]["reconnects"] == 1 and results["link"]["reruns"] >= 1


def test_the_harness_follows_an_emulator_killed_and_started_again_with_tinyrnn_flash(model, tmp_path,
                                                                                    monkeypatch):
    """What the harness's own error suggests, as a user does it: the emulator is killed in the middle of a run and
    `tinyrnn flash` starts it again (its own handshake holds the new port for a moment while the harness looks
    for it there): the harness waits, reconnects, re-runs the interrupted sequence, and the verdict is bit-exact."""
    env = {**os.environ, "TINYRNN_RUN_DIR": str(tmp_path / "run"), "BUILD_DIR": str(tmp_path / "fw")}
    flash = [sys.executable, "-m", "tinyrnn.host.cli", "flash", "--board", BOARD, "--model", str(model)]
    first = subprocess.run(flash, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout + first.stderr
    record = qemu.running(tmp_path / "run")[0]
    restarted = []

    def kill_and_flash():
        os.kill(record.pid, 15)
        restarted.append(subprocess.Popen(flash + ["--force", "--no-build"], env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True))
    _restart_after(monkeypatch, 4, kill_and_flash)
    try:
        results, *_ = evaluate(record.port, model, progress=False, link_options={"run_dir": tmp_path / "run"})
        out, _ = restarted[0].communicate(timeout=120)
    finally:
        qemu.stop(BOARD, run_dir=tmp_path / "run")
    assert restarted[0].returncode == 0, out
    assert results["stopped"] is None and results["bit_exact"]["mismatched_values"] == 0
    assert results["sequences"] == 10 and results["link"]["reconnects"] == 1 and results["link"]["reruns"] >= 1


def test_an_emulator_that_does_not_come_back_stops_the_run_keeping_what_it_verified(emulator, model, tmp_path,
                                                                                  monkeypatch):
    record, _ = emulator
    _restart_after(monkeypatch, 5, lambda: qemu.stop(BOARD, run_dir=tmp_path))
    results, *_ = evaluate(record.port, model, progress=False,
                           link_options={"run_dir": tmp_path, "reconnect_wait": 1.0})
    assert results["stopped"].startswith("error: ") and "went away" in results["stopped"]
    assert "\n" not in results["stopped"] and 2 <= results["sequences"] < 10 and not results["passed"]
    assert results["bit_exact"]["mismatched_values"] == 0



def test_a_stopped_run_resumes_where_it_stopped(model, elf, tmp_path, monkeypatch):
    """The link stops a run (the emulator goes away after 5 sequences): what it verified is kept; on a board
    that answers again, `tinyrnn harness --resume` runs only the rest and gives the whole run's verdict."""
    model = Path(shutil.copytree(model, tmp_path / "model"))
    board = load_board(BOARD)
    record = qemu.start(board, elf, run_dir=tmp_path)
    _restart_after(monkeypatch, 5, lambda: qemu.stop(BOARD, run_dir=tmp_path))
    results, run, twin, split = evaluate(record.port, model, progress=False,
                                         link_options={"run_dir": tmp_path, "reconnect_wait": 1.0})
    write_outputs(results, run, twin, split, model, plots=False)
    kept = results["sequences"]
    assert results["stopped"] and 2 <= kept < 10
    saved = output_dir(model, BOARD, stopped=True) / STOPPED_RUN
    assert saved.is_file()
    monkeypatch.undo()

    cli = [sys.executable, "-m", "tinyrnn.host.cli", "harness", "--model", str(model), "--no-plots", "--quiet"]
    record = qemu.start(board, elf, run_dir=tmp_path)
    try:
        done = subprocess.run(cli + ["--port", record.port, "--resume"], capture_output=True, text=True)
        again = subprocess.run(cli + ["--port", record.port, "--resume"], capture_output=True, text=True)
    finally:
        qemu.stop(BOARD, run_dir=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"resumed: {kept} sequences from the stopped run, {10 - kept} run now" in done.stdout
    final = json.loads((output_dir(model, BOARD) / "results.json").read_text())
    assert final["sequences"] == 10 and final["resumed_sequences"] == kept and final["passed"]
    assert final["bit_exact"]["mismatched_values"] == 0
    assert not saved.exists() and (saved.parent / "results.json").is_file()   # nothing left to resume
    assert again.returncode == 2 and again.stderr.startswith("error: nothing to resume: no stopped run of "
                                                             f"{BOARD}"), again.stderr
    assert len(again.stderr.strip().splitlines()) == 1, again.stderr

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
# QEMU's UART models take a byte only when the receive register is free and leave the rest in the pty, so a
# polled firmware never loses a byte under QEMU and timing alone cannot show the difference (round 1's timing test
# failed 1 run in 2-3). Instead the board counts: STATS rx_busy is the number of bytes the receive interrupt took
# while the board executed a request, each of which a polled receiver would have had to leave in the one-byte
# register (on silicon: overrun). A test build (-DTINYRNN_TEST_RX_HOLD=<spins>) stalls in every SEQUENCE, as a
# long computation would, until a whole frame waits in the ring (or a byte was dropped, or the spins ran out):
# the host sends the next request only once the board is inside that stall, so every one of its bytes arrives
# while the board is busy, and the counts are exact, not a matter of timing.

# ms of SysTick, which follows host time without -icount. The stall ends as soon as a whole frame (or a dropped
# byte) is in the ring, so a long limit costs nothing when the host is fast and keeps the test's conditions when it
# is not: with both cores busy QEMU can take more than a second to take a 2 KB burst from the pty (a 1 s limit let
# the board leave the stall first and read the burst as it came, and the ring never overflowed: rx_dropped == 0).
HOLD = "-DTINYRNN_TEST_RX_HOLD=30000"
POLLED_HOLD = "-DTINYRNN_TEST_RX_HOLD=1000"    # a polled build takes no byte while it stalls: always the full limit


def _backlog(fd):
    """Bytes written to the board's tty that the emulated UART has not taken yet."""
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]


class RawBoard:
    """A firmware on QEMU behind a pty pair this test owns (so it can see the tty's backlog), spoken to frame by
    frame: requests may be pipelined, which the Client never does."""

    def __init__(self, elf, board_name, log_path, extra_args=()):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.log = open(log_path, "wb")
        cmd = qemu.qemu_command(load_board(board_name), elf, serial=os.ttyname(self.slave)) + list(extra_args)
        i = cmd.index("-icount")
        del cmd[i:i + 2]       # the stall is timed by SysTick: without -icount that is host time
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.reader = FrameReader()
        self.session, self.next_id = 0x2A2A, 1
        self.last_reply = 0.0
        self.pending = []

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        os.close(self.master)
        os.close(self.slave)

    def frame(self, name, payload=b""):
        self.next_id += 1
        return encode_frame(spec.COMMANDS[name], self.next_id, payload, session=self.session)

    def send(self, data):
        """Write to the board, at least 50 ms after its last reply arrived: it has then finished sending it and
        is idle again (no byte of this request is counted as arriving while it was busy)."""
        time.sleep(max(0.0, self.last_reply + 0.05 - time.monotonic()))
        os.write(self.master, data)

    def frames(self, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        while len(self.pending) < count and time.monotonic() < deadline:
            if select.select([self.master], [], [], 0.05)[0]:
                self.pending += self.reader.feed(os.read(self.master, 4096))
        self.last_reply = time.monotonic()
        got, self.pending = self.pending[:count], self.pending[count:]
        return got

    def drained(self, timeout=10.0):
        """Wait until the emulated UART has taken every byte sent (the tty holds none), then a little longer:
        the board has then decoded the last request and is executing it. (The tty shows bytes written to the
        master only a moment later, so first wait to see them, up to half a second: a 1 KB request takes QEMU
        longer than that to take byte by byte.)"""
        deadline = time.monotonic() + 0.5
        while not _backlog(self.slave) and time.monotonic() < deadline:
            time.sleep(0.0005)
        deadline = time.monotonic() + timeout
        while _backlog(self.slave) and time.monotonic() < deadline:
            time.sleep(0.002)
        self.drained_at = time.monotonic()
        time.sleep(0.05)

    def request(self, name, payload=b"", tries=1):
        """Send one request and return its reply's payload (replies to earlier tries of a request are skipped)."""
        wire = b"\x00" + self.frame(name, payload)
        reply = None
        for _ in range(tries):         # (a board still booting drops what arrives before its UART is enabled)
            self.send(wire)
            deadline = time.monotonic() + 10.0 / tries
            while reply is None and time.monotonic() < deadline:
                got = self.frames(1, timeout=deadline - time.monotonic())
                reply = got[0] if got and got[0].request_id == self.next_id else None
            if reply is not None:
                break
        assert reply is not None, f"no reply to {name}"
        assert reply.type == spec.COMMANDS[name] | spec.REPLY_FLAG, reply
        return reply.payload

    def stats(self):
        return dict(zip((f for f, _ in spec.STATS_FIELDS), struct.unpack(spec.STATS_FORMAT, self.request("STATS"))))


@pytest.fixture
def raw_board(tmp_path):
    boards = []

    def start(elf, board_name=BOARD, extra_args=()):
        boards.append(RawBoard(elf, board_name, tmp_path / f"qemu-{len(boards)}.log", extra_args))
        return boards[-1]
    yield start
    for b in boards:
        b.close()


def _pipelined(board, model):
    """HELLO; a final-only SEQUENCE; once the board is executing it, a RESET. Returns (what STATS counted over
    the exchange, its last request included; bytes of the RESET); asserts both replies arrived in order and the
    SEQUENCE's outputs are the twin's (nothing lost)."""
    info = board.request("HELLO", tries=20)
    before = board.stats()
    n = struct.unpack_from("<H", info, dict((f, o) for f, o, _ in spec.info_offsets())["seq_max_steps_final"])[0]
    x = np.random.default_rng(0).integers(-2000, 2000, (n, 6)).astype("<i2")
    board.send(board.frame("SEQUENCE", struct.pack(spec.SEQUENCE_FORMAT, spec.SEQUENCE_FLAGS["RESET_FIRST"], 0, n)
                           + x.tobytes()))
    started = time.monotonic()
    board.drained()
    reset = board.frame("RESET")
    board.send(reset)
    replies = board.frames(2)
    board.timing = (board.drained_at - started, time.monotonic() - started)
    assert [f.type for f in replies] == [spec.COMMANDS["SEQUENCE"] | 0x80, spec.COMMANDS["RESET"] | 0x80]
    final = np.frombuffer(replies[0].payload, "<i4", offset=spec.SEQUENCE_REPLY_HEADER_SIZE)
    assert np.array_equal(final, TwinModel.from_artifact_dir(model).run(x[None].astype(np.int16))[0, -1])
    after = board.stats()
    return {k: after[k] - before[k] for k in after if k not in ("rx_peak", "rx_ring_size")} | \
        {"rx_peak": after["rx_peak"], "rx_ring_size": after["rx_ring_size"]}, len(reset)


@pytest.mark.parametrize("board_name", [BOARD, "qemu-netduinoplus2", "qemu-microbit"])   # cmsdk, stm32, nrf-uart
def test_the_board_takes_bytes_while_it_computes(model, tmp_path, raw_board, board_name):
    """Interrupt-driven receive: every byte of a request sent while the board computes is taken into the ring
    at once (rx_busy counts all of them), none is dropped, and the request is answered after the first."""
    elf = _build(board_name, model, tmp_path / "fw", HOLD)
    board = raw_board(elf, board_name)
    stats, sent = _pipelined(board, model)
    assert stats["rx_busy"] == sent and stats["rx_dropped"] == 0, (stats, board.timing)
    assert stats["rx_ring_size"] == 2048 and stats["frame_errors"] == 0 and stats["requests"] == 3, stats


def test_the_receive_test_fails_with_polled_receive(model, tmp_path, raw_board):
    """The same exchange against a build with polled receive: not one byte is taken while the board computes
    (they wait in the UART's register and the pty: on silicon, overruns), so the test above tells the two apart."""
    polled = _build(BOARD, model, tmp_path / "fw-polled", POLLED_HOLD + " -DTINYRNN_UART_RX_POLLED=1")
    stats, sent = _pipelined(raw_board(polled), model)
    assert stats["rx_busy"] == 0 and sent > 0, stats


def test_a_ring_overflow_is_counted_and_reported(model, tmp_path, raw_board):
    """More bytes than the ring holds while the board computes: the excess is dropped, counted, and reported
    by STATS (and the board still answers afterwards)."""
    board = raw_board(_build(BOARD, model, tmp_path / "fw", HOLD))
    board.request("HELLO", tries=20)
    errors_before = board.stats()["frame_errors"]
    board.send(board.frame("SEQUENCE", struct.pack(spec.SEQUENCE_FORMAT, spec.SEQUENCE_FLAGS["RESET_FIRST"], 0, 1)
                           + bytes(12)))
    board.drained()
    board.send(b"\x01" * 2100)                    # no delimiter: one over-long frame, larger than the ring
    # the board stays in its stall until the ring overflows (however slowly the bytes come), then answers
    (reply,) = board.frames(1, timeout=40.0)
    assert reply.type == spec.COMMANDS["SEQUENCE"] | 0x80, reply
    board.send(b"\x00")                           # ends the over-long frame
    (error,) = board.frames(1)
    assert error.type == spec.ERROR and error.payload[0] == spec.ERRORS["FRAME_TOO_LONG"], error
    stats = board.stats()
    assert stats["rx_dropped"] >= 1 and stats["rx_peak"] == stats["rx_ring_size"] == 2048, stats
    assert stats["frame_errors"] == errors_before + 1, stats


@pytest.mark.parametrize("board_name", [BOARD, "qemu-netduinoplus2", "qemu-microbit"])   # cmsdk, stm32, nrf-uart
def test_bytes_sent_while_the_board_boots_never_hang_it(model, tmp_path, raw_board, board_name):
    """A request the host sent while the board was still booting reaches the UART after its receiver is enabled
    but before its interrupt is. The board may have lost the bytes that came before its receiver was on (an STM32
    USART drops them), but it must answer the next request. (Before the fix a CMSDK UART kept such a byte in its
    register with no interrupt raised for it, the next byte could not arrive, and the board waited forever: CI
    saw it once as `no reply to HELLO`.)
    A test build widens the window between the two (GAP_SPINS empty loops), and QMP queries keep QEMU's main loop
    turning through it: the loop hands the waiting bytes to the UART only when it wakes, and nothing else wakes it."""
    sock = tmp_path / "qmp.sock"
    board = raw_board(_build(board_name, model, tmp_path / "fw", f"-DTINYRNN_TEST_RX_START_GAP={GAP_SPINS}"),
                      board_name, ["-qmp", f"unix:{sock},server=on,wait=off"])
    board.send(b"\x00" + board.frame("HELLO"))          # before QEMU has even opened the tty
    until = time.monotonic() + 2.0
    while time.monotonic() < until:
        try:
            qemu.qmp(sock, "query-status")
        except OSError:
            pass                                       # (not listening yet)
        time.sleep(0.01)
    board.frames(1, timeout=1.0)                       # its reply, an error for a damaged frame, or nothing
    board.request("HELLO", tries=2)


GAP_SPINS = 50_000_000
