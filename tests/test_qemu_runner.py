"""The emulator runner (host/qemu.py) end to end with the bring-up firmware: start, record, answer, stop,
and no emulator left behind. Needs arm-none-eabi-gcc and qemu-system-arm (CI installs both)."""

import shutil
import subprocess

import pytest

from host import qemu
from host.boards import ROOT, load_board
from host.protocol import Client
from host.transport import Transport

BOARD = "qemu-mps2-an386"


@pytest.fixture
def bring_up_elf(tmp_path):
    assert shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"), \
        "arm-none-eabi-gcc and qemu-system-arm are required"
    subprocess.run(["make", "-C", str(ROOT / "firmware"), f"BOARD={BOARD}", f"BUILD_DIR={tmp_path}"],
                   check=True, capture_output=True)
    return tmp_path / BOARD / "none" / "app.elf"


def test_start_answer_stop(bring_up_elf):
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
