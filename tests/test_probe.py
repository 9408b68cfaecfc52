"""Flashing real boards with the real tools and no board attached (host/device/probe.py): pyOCD (PyPI) and OpenOCD
(Debian) must each end within seconds with their own cause in one line, exit 2, and leave nothing running."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from tinyrnn.host.device import probe
from tinyrnn.host.device.boards import load_board

pytestmark = pytest.mark.toolchain

REAL_BOARDS = ("nucleo-f446re", "nrf52840-dk")
TOOLS_PRESENT = probe.find_tool("pyocd") and probe.find_tool("openocd")
needs_tools = pytest.mark.skipif(not TOOLS_PRESENT, reason="needs pyocd (pip) and openocd (apt)")
# A tool that waited for a probe would run until the test's own deadline; the bound is 30 s.
DEADLINE_S = 30


def _elf(tmp_path):
    """An ELF path with spaces in it (the tools fail before reading it: there is no probe)."""
    folder = tmp_path / "a folder with spaces"
    folder.mkdir(exist_ok=True)
    elf = folder / "app.elf"
    elf.write_bytes(b"\x7fELF")
    return elf


def _tool_processes(elf):
    """Live pyocd/openocd processes flashing `elf` (a zombie, exited and waiting for a parent to reap it, runs
    nothing). Only this test's own: another test run on the machine may be running the same tools."""
    out = subprocess.run(["ps", "-eo", "pid=,stat=,comm=,args="], capture_output=True, text=True).stdout
    rows = (line.split(None, 3) for line in out.splitlines())
    return {row[0] for row in rows if len(row) == 4 and row[2] in ("pyocd", "openocd") and
            not row[1].startswith("Z") and str(elf) in row[3]}


@needs_tools
@pytest.mark.parametrize("board_name", REAL_BOARDS)
@pytest.mark.parametrize("tool", ["pyocd", "openocd"])
def test_flash_without_a_probe_fails_in_one_line_within_seconds(board_name, tool, tmp_path, monkeypatch):
    board = load_board(board_name)
    monkeypatch.setitem(board.runner, "tool", tool)
    elf = _elf(tmp_path)
    started = time.monotonic()
    with pytest.raises(probe.FlashFailed) as failed:
        probe.flash_probe(board, elf)
    assert time.monotonic() - started < DEADLINE_S
    line = failed.value.one_line()
    assert "\n" not in line and line.startswith(f"error: {tool} could not flash {board_name}: ")
    real_cause = {"pyocd": "No connected debug probes",
                  "openocd": "open failed" if board_name == "nucleo-f446re" else "No J-Link device found"}[tool]
    assert real_cause in line and "plug the board's USB" in line
    assert not _tool_processes(elf)


@needs_tools
@pytest.mark.parametrize("board_name", REAL_BOARDS)
def test_tinyrnn_flash_ends_with_exit_2_and_one_line(board_name, tmp_path):
    """The command as a user runs it: the build (bring-up firmware) then the board's default tool. (make cannot
    build into a folder with spaces; the tools' handling of such a path is tested above.)"""
    if not shutil.which("arm-none-eabi-gcc"):
        pytest.skip("needs arm-none-eabi-gcc")
    env = dict(os.environ, BUILD_DIR=str(tmp_path / "build"))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tinyrnn.host.cli", "flash", "--board", board_name],
                          capture_output=True, text=True, timeout=DEADLINE_S + 120, env=env)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2, proc.stderr
    assert len(errors) == 1 and "could not flash" in errors[0] and "plug the board's USB" in errors[0], proc.stderr
    default_tool = load_board(board_name).runner["tool"]
    assert errors[0].startswith(f"error: {default_tool} could not flash")
    assert time.monotonic() - started < DEADLINE_S + 120       # the build included


@needs_tools
def test_a_probe_id_is_passed_to_the_tool(tmp_path, monkeypatch):
    board = load_board("nrf52840-dk")
    monkeypatch.setitem(board.runner, "tool", "pyocd")
    with pytest.raises(probe.FlashFailed, match="No connected debug probe matches unique ID '0123'"):
        probe.flash_probe(board, _elf(tmp_path), probe="0123")
    openocd = probe.flash_command("openocd", board, _elf(tmp_path), probe="0123")
    assert ["-c", "adapter serial {0123}"] == openocd[-4:-2]


@needs_tools
def test_openocd_reads_a_path_with_spaces_as_one_word(tmp_path):
    """The quoting checked by OpenOCD's own Tcl: the braced path names the file that exists."""
    elf = _elf(tmp_path)
    cmd = probe.flash_command("openocd", load_board("nucleo-f446re"), elf)
    word = cmd[-1].removeprefix("program ").removesuffix(" verify reset exit")
    proc = subprocess.run(["openocd", "-c", f"echo [file exists {word}]", "-c", "shutdown"],
                          capture_output=True, text=True, timeout=DEADLINE_S)
    assert "\n1\n" in "\n" + proc.stderr + proc.stdout + "\n"


@needs_tools
def test_list_probes_shows_both_tools_view():
    started = time.monotonic()
    lines = probe.list_probes()
    assert time.monotonic() - started < 2 * DEADLINE_S
    assert lines[0].startswith("pyocd: ") and "No available debug probes" in lines[0]
    assert any(line.startswith("openocd (nucleo-f446re") and "open failed" in line for line in lines)
    assert any(line.startswith("openocd (nrf52840-dk") and "No J-Link device found" in line for line in lines)


def test_the_default_tool_needs_no_download():
    """OpenOCD where pyOCD would need a CMSIS pack (the F446); pyOCD has the nRF52840 built in."""
    assert load_board("nucleo-f446re").runner["tool"] == "openocd"
    assert load_board("nrf52840-dk").runner["tool"] == "pyocd"


def test_failure_cause_prefers_the_tools_reason_over_its_epilogue():
    lines = ["Info : clock speed 2000 kHz", "Error: open failed", "in procedure 'program'",
             "** OpenOCD init failed **", "shutdown command invoked"]
    assert probe.failure_cause(lines) == ("Error: open failed", probe.NO_PROBE_FIX)
    assert probe.failure_cause(["Info : x", "Error: something new", "shutdown command invoked"]) == \
        ("Error: something new", None)


def test_a_hung_tool_is_stopped_at_its_deadline():
    code, _ = probe.run_tool([sys.executable, "-c", "import time; time.sleep(30)"], timeout=1)
    assert code is None
