"""The emulator runner (host/device/qemu.py) end to end with the bring-up firmware: start, record, answer, stop,
and no emulator left behind. Needs arm-none-eabi-gcc and qemu-system-arm (CI installs both)."""

import dataclasses
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tinyrnn.host.device import firmware, qemu
from tinyrnn.host.device.boards import load_board
from tinyrnn.quantize.sources import FIRMWARE_DIR
from tinyrnn.host.link.client import Client
from tinyrnn.host.link.transport import Transport

pytestmark = pytest.mark.emulator

BOARD = "qemu-mps2-an386"


@pytest.fixture
def bring_up_elf(tmp_path):
    assert shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"), \
        "arm-none-eabi-gcc and qemu-system-arm are required"
    subprocess.run(["make", "-C", str(FIRMWARE_DIR), f"BOARD={BOARD}", f"BUILD_DIR={tmp_path}"],
                   check=True, capture_output=True)
    return tmp_path / BOARD / "bringup" / "app.elf"


def test_elf_path_follows_the_makefile(tmp_path, monkeypatch):
    """firmware/Makefile: $(BUILD_DIR)/<board>/<model hash from c/model_data.h, else bringup>/app.elf."""
    from tinyrnn.host.device.firmware import elf_path
    monkeypatch.setenv("BUILD_DIR", str(tmp_path))
    assert elf_path(BOARD) == tmp_path / BOARD / "bringup" / "app.elf"
    model = tmp_path / "some-name"
    (model / "c").mkdir(parents=True)
    (model / "model.json").write_text('{"model_hash": "0123456789abcdef"}')
    assert elf_path(BOARD, model) == tmp_path / BOARD / "0123456789abcdef" / "app.elf"
    (model / "c" / "model_data.h").write_text('#define TINYRNN_MODEL_HASH "fedcba9876543210"\n')
    assert elf_path(BOARD, model) == tmp_path / BOARD / "fedcba9876543210" / "app.elf"


@pytest.mark.parametrize("text", ["{not json", '{"board": "x"}', "[]"])
def test_stop_with_a_corrupt_record(tmp_path, monkeypatch, text):
    monkeypatch.setenv("TINYRNN_RUN_DIR", str(tmp_path))
    (tmp_path / f"{BOARD}.json").write_text(text)
    assert qemu.stop(BOARD) is False
    assert not (tmp_path / f"{BOARD}.json").exists()


def test_start_answer_stop(bring_up_elf, tmp_path, monkeypatch):
    monkeypatch.setenv("TINYRNN_RUN_DIR", str(tmp_path))   # never stop an emulator the user started
    board = load_board(BOARD)
    record = qemu.start(board, bring_up_elf)
    try:
        assert record.port.startswith("/dev/pts/")
        assert [r.pid for r in qemu.running() if r.board == BOARD] == [record.pid]
        with Transport(record.port) as transport:
            info = Client(transport).hello()
        assert (info.board_name, info.has_model, info.unit) == (BOARD, False, "instructions")
        assert info.cpu_clock_hz == board.clock_hz
    finally:
        assert qemu.stop(BOARD)
    assert not qemu._alive_qemu(record.pid)
    assert BOARD not in [r.board for r in qemu.running()]
    assert not qemu.stop(BOARD)             # stopping twice is harmless



def _cpu_seconds(pid):
    """User + system CPU time of a process, all its threads (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("board_name", ["qemu-mps2-an386", "qemu-microbit", "qemu-riscv32-virt"])
def test_an_idle_board_sleeps_and_wakes_for_the_next_byte(tmp_path, monkeypatch, board_name):
    """Waiting for a request, the firmware sleeps in WFI (masked check, then sleep: uart_rx.h) and QEMU idles
    (-icount sleep=on): an idle board costs the host no CPU. A board that spun instead used a third of a core here
    (more on an idle machine; a loaded one only lowers it), so the bound below cannot pass by luck. It still answers
    the next request at once."""
    board = load_board(board_name)
    if shutil.which(board.qemu_binary) is None or shutil.which(board.cross + "gcc") is None:
        pytest.skip(f"needs {board.qemu_binary} and {board.cross}gcc")
    monkeypatch.setenv("TINYRNN_RUN_DIR", str(tmp_path / "run"))
    subprocess.run(["make", "-C", str(FIRMWARE_DIR), f"BOARD={board_name}", f"BUILD_DIR={tmp_path}"],
                   check=True, capture_output=True)
    record = qemu.start(board, tmp_path / board_name / "bringup" / "app.elf")
    try:
        with Transport(record.port) as transport:
            client = Client(transport)
            assert client.hello().board_name == board_name
            before, started = _cpu_seconds(record.pid), time.monotonic()
            time.sleep(3)
            used = _cpu_seconds(record.pid) - before
            assert used < 0.05 * (time.monotonic() - started), f"QEMU used {used:.2f} s of CPU while idle"
            assert client.hello().board_name == board_name
    finally:
        qemu.stop(board_name)

@pytest.fixture
def fake_qemu():
    """A live process whose command line names qemu-system-arm (a renamed `sleep`): no QEMU needed."""
    proc = subprocess.Popen(["bash", "-c", f"exec -a {qemu.QEMU} sleep 60"])
    deadline = time.monotonic() + 5
    while not qemu._alive_qemu(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _record(directory, pid):
    directory.mkdir(parents=True, exist_ok=True)
    record = qemu.RunRecord(BOARD, pid, "/dev/pts/999", "app.elf", "x.log", [qemu.QEMU])
    (directory / f"{BOARD}.json").write_text(json.dumps(dataclasses.asdict(record)))


def test_run_directories_are_separate(tmp_path, monkeypatch, fake_qemu):
    """TINYRNN_RUN_DIR moves the records; a run directory passed explicitly (hwtest's) sees only its own."""
    user, other = tmp_path / "user", tmp_path / "hwtest"
    monkeypatch.setenv("TINYRNN_RUN_DIR", str(user))
    assert qemu.run_directory() == user and qemu.run_directory(other) == other
    _record(user, fake_qemu.pid)
    assert qemu.running(other) == [] and qemu.stop(BOARD, run_dir=other) is False
    assert fake_qemu.poll() is None and [r.pid for r in qemu.running()] == [fake_qemu.pid]
    assert qemu.stop(BOARD) is True
    assert fake_qemu.wait(timeout=5) is not None and qemu.running() == []
    monkeypatch.delenv("TINYRNN_RUN_DIR")
    assert qemu.run_directory() == qemu.DEFAULT_RUN_DIR


def test_hwtest_uses_its_own_run_directory(tmp_path, monkeypatch):
    from tinyrnn.host.commands import hwtest
    calls = []
    monkeypatch.setattr(firmware, "build", lambda board, model_dir, verbose=False: tmp_path / "app.elf")
    monkeypatch.setattr(qemu, "start", lambda board, elf, run_dir=None: calls.append(("start", run_dir))
                        or qemu.RunRecord(board.name, 1, "/dev/pts/999", str(elf), "x.log", []))
    monkeypatch.setattr(qemu, "stop", lambda name, run_dir=None: calls.append(("stop", run_dir)))
    monkeypatch.setattr(hwtest.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0))
    summary = hwtest.run_board(load_board(BOARD), tmp_path)
    assert summary["tests"] == "passed"
    assert calls == [("start", hwtest.RUN_DIR), ("stop", hwtest.RUN_DIR)]
    assert hwtest.RUN_DIR != qemu.run_directory()
