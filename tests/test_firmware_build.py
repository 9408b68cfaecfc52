"""Every board's firmware builds warning-free (-Wall -Wextra -Werror) against a model, and a model that
does not fit is refused with what it needs and what the board has. Needs arm-none-eabi-gcc: CI installs it,
so its absence is a failure here, not a skip."""

import json
import shutil
import subprocess

import pytest

from tinyrnn.host.device.boards import board_names, load_board
from tinyrnn.quantize.sources import FIRMWARE_DIR
from tinyrnn.host.device.firmware import model_key

pytestmark = pytest.mark.emulator


def make(board, build_dir, model=None):
    cmd = ["make", "-C", str(FIRMWARE_DIR), f"BOARD={board}", f"BUILD_DIR={build_dir}"]
    if model:
        cmd.append(f"MODEL={model}")
    return subprocess.run(cmd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def toolchain():
    assert shutil.which("arm-none-eabi-gcc"), "arm-none-eabi-gcc is required (apt-get install gcc-arm-none-eabi)"


def synthetic_model(directory, **kwargs):
    from tinyrnn.quantize.emit.export import export
    from tinyrnn.quantize.reference.synthetic import make_artifact
    make_artifact(directory, n=2, steps=8, **kwargs)
    export(directory, progress=False)
    return directory


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return synthetic_model(tmp_path_factory.mktemp("models") / "synth-gru16")


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fw")


def symbol(elf, name):
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if parts[-1] == name:
            return int(parts[0], 16)
    raise KeyError(name)


@pytest.mark.parametrize("board_name", [n for n in board_names() if not load_board(n).micropython])
def test_board_builds_warning_free_with_a_model(toolchain, model, build_dir, board_name):
    proc = make(board_name, build_dir, model)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning" not in (proc.stdout + proc.stderr).lower()
    board = load_board(board_name)
    out = build_dir / board_name / model_key(model)
    elf = out / "app.elf"
    assert elf.is_file()
    first = "vector_table" if board.family == "cortexm" else "_start"   # Cortex-M reads it at reset; RISC-V jumps there
    assert symbol(elf, first) == board.flash_origin
    assert symbol(elf, "__stack_top") <= board.ram_origin + board.ram_size
    size = json.loads((out / "size.json").read_text())
    assert 0 < size["flash_bytes"] <= board.flash_size and 0 < size["ram_bytes"] <= board.ram_size
    assert f"{board_name} / {model.name} ({model_key(model)}): flash" in proc.stdout       # the size report
    if board.has_fpu:   # CPACR is enabled in the reset handler, before any FP instruction can run
        dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True).stdout
        reset = dis.split("<Reset_Handler>:")[1].split("\n\n")[0]
        assert "e000ed88" in reset.lower()


@pytest.mark.parametrize("board_name", ["qemu-microbit", "nucleo-f446re"])
def test_bring_up_firmware_builds_without_a_model(toolchain, build_dir, board_name):
    proc = make(board_name, build_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (build_dir / board_name / model_key(None) / "app.elf").is_file()


def test_model_too_big_is_refused_with_sizes(toolchain, tmp_path, build_dir):
    big = synthetic_model(tmp_path / "synth-big", units=192, layers=2)
    proc = make("qemu-microbit", build_dir, big)
    assert proc.returncode != 0
    message = [line for line in proc.stderr.splitlines() if "does not fit" in line]
    assert message, proc.stderr
    assert f"model synth-big ({model_key(big)}) does not fit qemu-microbit: flash" in message[0]
    assert "B needed, board has 262,144 B" in message[0]
    assert not (build_dir / "qemu-microbit" / model_key(big) / "app.elf").exists()


def test_unknown_board_and_missing_model_are_clear(toolchain, build_dir, tmp_path):
    proc = make("no-such-board", build_dir)
    assert proc.returncode != 0 and "unknown board 'no-such-board'" in proc.stderr
    proc = make("qemu-mps2-an386", build_dir, tmp_path / "empty")
    assert proc.returncode != 0 and "tinyrnn export" in proc.stderr


def test_same_model_from_another_directory_builds_after_the_first_is_gone(toolchain, model, tmp_path):
    """The output directory is keyed on the model hash; a moved (or re-trained identical) artifact must not trip
    over dependency files that name the old path."""
    first = shutil.copytree(model, tmp_path / "first")
    assert make("qemu-mps2-an386", tmp_path / "fw", first).returncode == 0
    second = shutil.copytree(first, tmp_path / "second")
    shutil.rmtree(first)
    (second / "c" / "model_data.c").touch()                  # newer than the object: make must rebuild it
    proc = make("qemu-mps2-an386", tmp_path / "fw", second)
    assert proc.returncode == 0, proc.stderr
