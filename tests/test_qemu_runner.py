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
    return tmp_path / BOARD / "bringup" / "app.elf"


def test_elf_path_follows_the_makefile(tmp_path, monkeypatch):
    """firmware/Makefile: $(BUILD_DIR)/<board>/<model hash from c/model_data.h, else bringup>/app.elf."""
    from host.flash import elf_path
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
    monkeypatch.setattr(qemu, "RUN_DIR", tmp_path)
    (tmp_path / f"{BOARD}.json").write_text(text)
    assert qemu.stop(BOARD) is False
    assert not (tmp_path / f"{BOARD}.json").exists()


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
